"""`drs-fleet-sync sandbox demo|run|serve`: the offline stack from the command line.

Exit codes: 0 every run succeeded, 1 a run did not succeed (or the sandbox broke), 2 bad input
(unknown sync, unreadable fleet or template, bad JSON or parameter).

Handlers log to stdout (Powertools). The CLI keeps their output off its own stdout, so `run --json`
prints nothing but the summary: with --verbose it streams to stderr, otherwise the last lines are
shown on stderr only when a run fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from .cli_checks import (
    STATE_MACHINES,
    UsageError,
    check_run,
    clock_speed,
    public_summary,
    require_free_port,
    stop_execution,
)
from .cli_output import Output

# The README's variables for a deployed stack, each a stack output; serve prints them for its own stack.
README_VARIABLES = {
    "INVENTORY_SYNC_ARN": "InventorySyncStateMachineArn",
    "TAG_SYNC_ARN": "TagsSyncStateMachineArn",
    "STAGING_SYNC_ARN": "StagingSyncStateMachineArn",
    "RECOVERY_INSTANCE_SYNC_ARN": "RecoveryInstancesSyncStateMachineArn",
    "DATA_MANAGEMENT_FUNCTION": "DataManagementFunctionName",
}
DEFAULT_FLEET = "events/fleets/demo.yaml"
DEFAULT_PORT = 5055
CONSOLE_HINT = f"http://127.0.0.1:{DEFAULT_PORT}/console/"
DEFAULT_TEMPLATE = "template.yaml"
SMOKE_TEMPLATE = "tests/fixtures/smoke/template.yaml"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_TIMEOUT = 120.0

log = logging.getLogger("sandbox.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drs-fleet-sync", description="DRS Fleet Sync tools")
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox", help="the offline stack: template in moto + DRS simulator")
    actions = sandbox.add_subparsers(dest="action", required=True)

    def common(p: argparse.ArgumentParser, fleet_default: str | None = DEFAULT_FLEET) -> None:
        p.add_argument(
            "--fleet",
            default=fleet_default,
            help=f"fleet file to seed (default {fleet_default}); 'none' for an empty estate",
        )
        p.add_argument("--template", default=DEFAULT_TEMPLATE, help="SAM template (default %(default)s)")
        p.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="template parameter override (repeatable)",
        )
        p.add_argument("--verbose", "-v", action="store_true", help="stream handler logs and deploy notes to stderr")

    demo = actions.add_parser("demo", help="run every sync the template defines and print a table of the runs")
    common(demo)
    demo.add_argument("--json", action="store_true", help="print every run's summary as JSON instead")
    run = actions.add_parser("run", help="run one sync and print its summary")
    run.add_argument("sync", help="the sync's short name, e.g. inventory")
    common(run)
    run.add_argument("--input", help="execution input: JSON text or @file.json (default {})")
    run.add_argument("--json", action="store_true", help="print exactly the summary dict as JSON")
    run.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for the run (default %(default)s)",
    )
    run.add_argument("--logs", action="store_true", help="print the run's log lines (CloudWatch Logs) to stderr")
    run.add_argument(
        "--endpoint",
        metavar="URL",
        help="run on the `sandbox serve` at URL (its stack, fleet and state) instead of a fresh sandbox",
    )
    serve = actions.add_parser("serve", help="serve the sandbox over HTTP for the aws CLI and boto3")
    common(serve)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s; 0 picks a free one)")
    serve.add_argument("--demo", action="store_true", help="run the demo's syncs first, so the console shows them")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    serve.add_argument(
        "--speed",
        type=clock_speed,
        default=1.0,
        metavar="N",
        help="run the sandbox clock N times faster, so the schedules fire live (60: a 5-minute schedule every 5 s)",
    )
    return parser


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds <= 86400:
        raise argparse.ArgumentTypeError(f"{value} s: give more than 0 and at most 86400")
    return seconds


def _parameters(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {pair!r}: expected NAME=VALUE")
        params[name] = value
    return params


def _fleet(value: str | None) -> Path | None:
    from .core import resolve_path

    if value is None or value.lower() in ("", "none"):
        return None
    path = resolve_path(value)
    if path.is_dir():
        raise UsageError(f"fleet file {value} is a directory (give a .yaml or .json file)")
    if not path.is_file():
        raise UsageError(f"fleet file {value} does not exist")
    return path


def _template(value: str) -> Path:
    from .core import resolve_path

    path = resolve_path(value)
    if not path.is_file():
        raise UsageError(f"template {value} does not exist")
    return path


def _input(value: str | None) -> Any:
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as exc:
            raise UsageError(f"--input {value}: {exc}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--input is not valid JSON: {exc}") from exc


def _defines_syncs(template: Path) -> bool:
    """True when the template has a state machine that declares DefinitionSubstitutions.SyncName."""
    from .stack import load_template

    return any(
        "SyncName" in ((res.get("Properties") or {}).get("DefinitionSubstitutions") or {})
        for res in load_template(template)["Resources"].values()
        if res.get("Type") in STATE_MACHINES
    )


def _demo(args: argparse.Namespace, io_: Output) -> int:
    from .core import Sandbox
    from .demo import demo_plan, demo_report, run_demo

    template = _template(args.template)
    fleet = _fleet(args.fleet)
    params = _parameters(args.param)
    if not _defines_syncs(template):
        io_.print(f"{args.template} defines no sync state machines yet: running the smoke state machine")
        io_.print(f"of the sandbox's test fixture ({SMOKE_TEMPLATE}) instead.\n")
        template, params = _template(SMOKE_TEMPLATE), {}
    started = time.perf_counter()
    with Sandbox(fleet=fleet, template=template, parameters=params) as sb:
        opened = time.perf_counter() - started
        fleet_note = f"fleet {args.fleet}" if fleet else "an empty estate"
        if not args.json:
            io_.print(f"sandbox up in {opened:.2f} s: stack {sb.stack_name} from {template.name}, {fleet_note}\n")
            results = run_demo(sb, io_.print)
        else:
            results = [(label, sb.run_sync(name), 0.0) for label, name in demo_plan(sb)]
    if args.json:
        io_.print(json.dumps([s for _, s, _ in results], indent=2, sort_keys=True, default=str))
    else:
        report = demo_report(results)
        if report:
            io_.print(report)
        ok = sum(1 for _, s, _ in results if s.get("status") == "SUCCEEDED")
        total = time.perf_counter() - started
        io_.print(f"\n{ok}/{len(results)} runs succeeded; sandbox start and deploy {opened:.2f} s; total {total:.1f} s")
        io_.print("details: drs-fleet-sync sandbox demo --json (every summary)")
        io_.print(f"see these runs as the Step Functions console shows them: make console, then open {CONSOLE_HINT}")
    if any(s.get("status") != "SUCCEEDED" for _, s, _ in results):
        io_.show_handler_tail()
        return EXIT_FAILED
    return EXIT_OK


def _timed_out(sync: str, timeout: float, arn: str, io_: Output) -> None:
    print(
        f"drs-fleet-sync: {sync} did not finish within {timeout:g} s (stopped {arn}); "
        "give it longer with --timeout SECONDS",
        file=io_.err,
    )


def _run_here(args: argparse.Namespace, template: Path, payload: Any, io_: Output) -> dict[str, Any] | None:
    """The run on a fresh sandbox of its own; None when it timed out (and was stopped)."""
    from .core import Sandbox
    from .executions import summary_of

    fleet, params = _fleet(args.fleet), _parameters(args.param)
    with Sandbox(fleet=fleet, template=template, parameters=params) as sb:
        sb.state_machine_arn(args.sync)  # an unknown sync fails before anything runs
        arn = sb.start_sync(args.sync, payload)
        try:
            summary = summary_of(sb.sync_name(args.sync), sb.wait(arn, args.timeout))
        except TimeoutError:  # stop it: nothing may run on once the sandbox closes
            stop_execution(sb, arn, f"--timeout {args.timeout:g} s")
            _timed_out(args.sync, args.timeout, arn, io_)
            return None
        for line in sb.logs(args.sync, execution=arn) if args.logs else []:
            print(json.dumps(line, default=str), file=io_.err)
    return summary


def _run_on_endpoint(args: argparse.Namespace, payload: Any, io_: Output) -> dict[str, Any] | None:
    """The run on the `sandbox serve` at --endpoint (sandbox/remote_run.py)."""
    from .remote_run import run_on_endpoint

    if args.param or args.logs:
        raise UsageError("--endpoint runs on that server's stack and fleet: --param and --logs do not apply")
    try:
        return run_on_endpoint(args.endpoint, args.sync, payload, args.timeout)
    except TimeoutError as stopped:
        _timed_out(args.sync, args.timeout, str(stopped), io_)
        return None


def _run(args: argparse.Namespace, io_: Output) -> int:
    from .summary import format_summary

    payload = _input(args.input)
    template = _template(args.template)
    check_run(args.sync, template, payload)
    found = _run_on_endpoint(args, payload, io_) if args.endpoint else _run_here(args, template, payload, io_)
    if found is None:
        return EXIT_FAILED
    summary = public_summary(found)
    if args.json:
        io_.print(json.dumps(summary, indent=2, sort_keys=True, default=str))
    else:
        io_.print(format_summary(summary))
    if summary.get("status") != "SUCCEEDED":
        io_.show_handler_tail()
        return EXIT_FAILED
    return EXIT_OK


def _print_schedules(sb: Any, speed: float, io_: Output) -> None:
    schedules = sb.scheduler.schedules if sb.scheduler is not None else []
    if schedules:
        io_.print(f"schedules (the clock runs at {speed:g}x; each fires one rate after the deploy, then every rate):")
    for schedule in sorted(schedules, key=lambda s: s.name):
        state = sb.client("scheduler").get_schedule(Name=schedule.name, GroupName=schedule.group)["State"]
        every = f"every {schedule.every / 60:g} min = {schedule.every / speed:g} s real"
        io_.print(f"  {schedule.name:<64} {state:<8} {every}")


def _print_stack_outputs(sb: Any, io_: Output) -> None:
    outputs = sb.deployment.outputs
    found = {var: outputs[key] for var, key in README_VARIABLES.items() if key in outputs}
    if found:
        io_.print("the stack's outputs the README's 'Running a sync' commands use:")
        io_.print("  export " + " ".join(f"{var}={value}" for var, value in found.items()))


def _print_rest_api(sb: Any, url: str, io_: Output) -> None:
    """The REST API's invoke URL on this server, and a signed request to it (sandbox/rest_endpoint.py)."""
    from .rest_endpoint import gateway_of, invoke_url

    if not gateway_of(sb).api_ids():
        return
    api = invoke_url(sb, url)
    io_.print(f"REST API (AWS_IAM: SigV4-signed with the keys above, service execute-api): {api}")
    io_.print(f'  awscurl --service execute-api "{api}/regions"   # with the environment above')


def _serve(args: argparse.Namespace, io_: Output) -> int:
    from .core import Sandbox
    from .demo import run_demo

    template, fleet, params = _template(args.template), _fleet(args.fleet), _parameters(args.param)
    require_free_port(args.host, args.port)
    stop = threading.Event()
    serving = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        if not serving.is_set():  # still deploying: stop now rather than after the deploy
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Sandbox(fleet=fleet, template=template, parameters=params, clock="real", speed=args.speed) as sb:
            require_free_port(args.host, args.port)  # taken while the stack deployed?
            url = sb.serve(port=args.port, host=args.host)
            serving.set()
            if args.demo:
                io_.print(f"running the demo's syncs first (console already at {url}/console/):")
                run_demo(sb, io_.print)
            io_.print(f"sandbox serving at {url}  (account {sb.account}, region {sb.region})")
            io_.print(f"console: {url}/console/")
            io_.print(
                f"  export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
                f"AWS_DEFAULT_REGION={sb.region}"
            )
            _print_rest_api(sb, url, io_)
            _print_stack_outputs(sb, io_)
            io_.print("state machines:")
            for name, arn in sorted(sb.state_machines.items()):
                io_.print(f"  {name:<20} {arn}")
            io_.print("tables:")
            for name, physical in sb.tables.items():
                io_.print(f"  {name:<20} {physical}")
            if sb.state_machines:
                first = next(iter(sorted(sb.state_machines.values())))
                io_.print("try:")
                io_.print(f"  aws stepfunctions start-execution --state-machine-arn {first} --name demo-1 \\")
                io_.print("    --input '{}'")
            _print_schedules(sb, args.speed, io_)
            io_.print("Ctrl-C stops the server.")
            while not stop.wait(0.5):
                pass
        io_.print("stopped")
    except KeyboardInterrupt:
        io_.print("stopped before serving")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"demo": _demo, "run": _run, "serve": _serve}
    from .core import SandboxError
    from .fleet import FleetError
    from .stack import DeployError

    usage_errors = (UsageError, SandboxError, DeployError, FleetError, FileNotFoundError)
    with warnings.catch_warnings(), Output(args.verbose) as io_:
        try:
            return handlers[args.action](args, io_)
        except usage_errors as exc:
            print(f"drs-fleet-sync: {exc}", file=io_.err)
            return EXIT_USAGE
        except Exception:
            log.exception("the sandbox failed")
            io_.show_handler_tail()
            return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
