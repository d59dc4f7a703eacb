"""`drs-fleet-sync sandbox demo|run|serve`: output, exit codes, and HTTP serving from another process."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from sandbox.cli import main
from sandbox.summary import format_errors, format_runs, format_saving, format_summary
from tests.sandbox_support import start_serve

ROOT = Path(__file__).resolve().parents[2]
SMOKE = str(ROOT / "tests/fixtures/smoke/template.yaml")
RUN = ["sandbox", "run", "smoke", "--template", SMOKE, "--fleet", "none"]


def test_run_json_prints_exactly_the_summary(capsys):
    assert main([*RUN, "--json", "--input", '{"items": [{"id": 1}, {"id": 3}]}']) == 0
    out, _ = capsys.readouterr()
    summary = json.loads(out)
    assert summary["status"] == "SUCCEEDED" and summary["sync"] == "smoke"
    assert summary["failedItems"] == [3] and summary["executionArn"].startswith("arn:aws:states:")


def test_run_reads_input_from_a_file_and_prints_text(capsys, tmp_path):
    payload = tmp_path / "input.json"
    payload.write_text('{"items": [{"id": 2}]}')
    assert main([*RUN, "--input", f"@{payload}", "--param", "TransientEvery=3"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("smoke  SUCCEEDED\n")
    assert re.search(r"^  total\s+4$", out, re.MULTILINE)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sandbox", "run", "nope", "--template", SMOKE, "--fleet", "none"], "unknown sync 'nope'"),
        ([*RUN, "--input", "{bad"], "--input is not valid JSON"),
        ([*RUN, "--input", "@/nonexistent/input.json"], "--input @/nonexistent/input.json"),
        (["sandbox", "run", "smoke", "--template", SMOKE, "--fleet", "no/such/fleet.yaml"], "fleet file"),
        ([*RUN, "--param", "novalue"], "expected NAME=VALUE"),
        ([*RUN, "--param", "Unknown=1"], "declares no parameter(s) Unknown"),
        (["sandbox", "run", "smoke", "--template", "no/such/template.yaml"], "template no/such/template.yaml"),
    ],
)
def test_bad_input_is_a_clear_message_and_exit_code_2(capsys, argv, message):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert message in err and err.startswith("drs-fleet-sync: ") and out == ""


def test_a_fleet_the_simulator_rejects_is_bad_input(capsys, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("accounts:\n  - accountId: '12'\n")
    assert main(["sandbox", "run", "smoke", "--template", SMOKE, "--fleet", str(fleet)]) == 2
    assert "drs-fleet-sync: " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"accounts:\n  - name: \xff\n", "line 2: not UTF-8 text"),
        (b"seed: 1\nseed: 1\naccounts: []\n", "seed: key given twice"),
        (
            b'accounts:\n  - accountId: "111111111111"\n    regions: {us-east-1: {sourceServers: true}}\n',
            "valid integer",
        ),
        (b'acounts:\n  - accountId: "111111111111"\n', "acounts: unknown field (did you mean accounts?)"),
    ],
)
def test_a_broken_fleet_file_exits_2_naming_file_and_field(capsys, tmp_path, content, message):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_bytes(content)
    assert main(["sandbox", "run", "smoke", "--template", SMOKE, "--fleet", str(fleet)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"drs-fleet-sync: {fleet}: ") and message in err, err
    assert "Traceback" not in err and out == ""


def test_a_fleet_directory_exits_2_saying_so(capsys, tmp_path):
    assert main(["sandbox", "run", "smoke", "--template", SMOKE, "--fleet", str(tmp_path)]) == 2
    assert f"fleet file {tmp_path} is a directory" in capsys.readouterr().err


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as exc:
        main(["sandbox", "launch"])
    assert exc.value.code == 2


def test_a_failed_run_exits_1_and_shows_why(capsys):
    assert main([*RUN, "--input", '{"items": [{"no-id": 1}]}']) == 1
    out, _ = capsys.readouterr()
    assert out.startswith("smoke  FAILED\n") and "KeyError" in out


def test_demo_runs_the_smoke_machine_while_the_template_has_no_syncs(capsys):
    assert main(["sandbox", "demo", "--template", SMOKE, "--fleet", "none"]) == 0
    out, _ = capsys.readouterr()
    assert "defines no sync state machines yet: running the smoke state machine" in out
    assert re.search(r"^smoke\s+SUCCEEDED(\s+-){5}\s+\d+\.\d s$", out, re.MULTILINE)
    assert re.search(r"^1/1 runs succeeded; sandbox start and deploy \d+\.\d\d s; total", out, re.MULTILINE)
    assert out.rstrip().endswith("make console, then open http://127.0.0.1:5055/console/")


def test_demo_json_prints_every_summary(capsys):
    assert main(["sandbox", "demo", "--template", SMOKE, "--fleet", "none", "--json"]) == 0
    out, _ = capsys.readouterr()
    (summary,) = json.loads(out[out.index("[") :])
    assert summary["sync"] == "smoke" and summary["status"] == "SUCCEEDED"


def test_handler_output_stays_off_stdout(capsys, tmp_path):
    # the smoke handlers print nothing; a template whose handler prints proves the JSON stays clean
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn/app.py").write_text("def handler(event, context):\n    print('noise')\n    return {'ok': 1}\n")
    (tmp_path / "m.asl.json").write_text(
        '{"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "${Fn}", "End": true}}}'
    )
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.12}\n"
        "  Machine:\n    Type: AWS::Serverless::StateMachine\n"
        "    Properties: {DefinitionUri: m.asl.json, DefinitionSubstitutions: {Fn: !GetAtt Fn.Arn}, Policies: []}\n"
    )
    assert main(["sandbox", "run", "machine", "--template", str(tmp_path / "template.yaml"), "--json"]) == 0
    out, _ = capsys.readouterr()
    assert json.loads(out)["ok"] == 1


def _group(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{pattern!r} not in {text!r}"
    return match.group(1)


def test_serve_answers_boto3_from_another_process(capsys, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    log = tmp_path / "serve.log"
    proc, url, banner = start_serve(["--template", SMOKE, "--fleet", "none", "--port", "0"], env, log)
    deadline = time.monotonic() + 60
    try:
        arn = _group(r"^  smoke\s+(arn:\S+)$", banner)
        creds = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        sfn = boto3.client("stepfunctions", endpoint_url=url, **creds)
        execution = sfn.start_execution(stateMachineArn=arn, name="from-outside", input='{"items": [{"id": 1}]}')
        while (desc := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert desc["status"] == "SUCCEEDED" and json.loads(desc["output"])["total"] == 2
        table = _group(r"^  items\s+(\S+)$", banner)
        rows = boto3.client("dynamodb", endpoint_url=url, **creds).scan(TableName=table)["Count"]
        assert rows == 3  # the item's row from each map and the run's summary
        assert boto3.client("drs", endpoint_url=url, **creds).describe_source_servers()["items"] == []
        _unnamed_starts_and_map_runs_answer(sfn, arn, deadline)
        _run_targets_the_served_sandbox(sfn, arn, url, capsys)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, log.read_text()
    assert out.rstrip().endswith("stopped")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_cleanly_on_sigterm_as_on_ctrl_c(sig, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    log = tmp_path / "serve.log"
    proc, _, _ = start_serve(["--template", SMOKE, "--fleet", "none", "--port", "0"], env, log)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)  # a service manager's stop, not a hang
    assert proc.returncode == 0, log.read_text()
    assert out.rstrip().endswith("stopped") and "Traceback" not in log.read_text()


def _run_targets_the_served_sandbox(sfn, arn, url, capsys):
    """`sandbox run --endpoint` starts the run on that server (its executions list grows by one each time)."""
    before = len(sfn.list_executions(stateMachineArn=arn)["executions"])
    for _ in range(2):
        assert main(["sandbox", "run", "smoke", "--template", SMOKE, "--endpoint", url, "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["status"] == "SUCCEEDED" and summary["executionArn"].startswith(
            arn.replace(":stateMachine:", ":execution:")
        )
        assert sfn.describe_execution(executionArn=summary["executionArn"])["status"] == "SUCCEEDED"
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == before + 2
    assert main(["sandbox", "run", "smoke", "--template", SMOKE, "--endpoint", url, "--param", "A=1"]) == 2
    assert main(["sandbox", "run", "smoke", "--template", SMOKE, "--endpoint", "http://127.0.0.1:9"]) == 2
    assert "no sandbox answers there" in capsys.readouterr().err


def _unnamed_starts_and_map_runs_answer(sfn, arn, deadline):
    """StartExecution without a name (as the README shows it) is named with a UUID, as AWS names it, so a
    second one is another execution; ListExecutions of a map run lists its items."""
    unnamed = [sfn.start_execution(stateMachineArn=arn, input='{"items": [{"id": 2}]}')["executionArn"] for _ in "ab"]
    names = [a.rsplit(":", 1)[1] for a in unnamed]
    assert names[0] != names[1] and all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", n) for n in names)
    for execution_arn in unnamed:
        while (desc := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert desc["status"] == "SUCCEEDED" and desc["name"] in names
    (run, *_) = sfn.list_map_runs(executionArn=unnamed[0])["mapRuns"]
    children = sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]
    assert children and all(c["mapRunArn"] == run["mapRunArn"] for c in children)
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.start_execution(stateMachineArn=arn, name="has space", input="{}")


def test_format_summary_of_a_sync():
    summary = {
        "sync": "inventory",
        "status": "SUCCEEDED",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:drs-fleet-sync-inventory-sync:run-1",
        "decision": "filtered",
        "workItems": [
            {"accountId": "111111111111", "region": "us-west-2"},
            {"accountId": "111111111111", "region": "us-east-1"},
            {"accountId": "222222222222", "region": "eu-west-1"},
        ],
        "regionsSkipped": 31,
        "apiCalls": {"DescribeSourceServers": 3, "AssumeRole": 2, "DescribeInstances": 5},
        "serversSynced": 120,
        "errors": [{"accountId": "1", "region": f"r{i}", "code": "Denied", "message": "no"} for i in range(7)],
        "durationMs": 1234,
        "extended": {"new": 2},
        "empty": {},
    }
    text = format_summary(summary)
    assert text.splitlines()[0] == "inventory  SUCCEEDED"
    assert "work items         3  (111111111111: us-east-1, us-west-2; 222222222222: eu-west-1)" in text
    assert "API calls          10  (DescribeInstances 5, DescribeSourceServers 3, AssumeRole 2)" in text
    assert "errors             7" in text and "    1/r0  Denied  no" in text and "... and 2 more" in text
    assert "extended           new 2" in text and "empty              -" in text
    assert "duration           1.23 s" in text and text.rstrip().endswith("execution          run-1")


def test_format_summary_of_a_failure():
    text = format_summary({"sync": "tags", "status": "FAILED", "error": "States.Runtime", "cause": "x" * 500})
    assert text.splitlines()[:2] == ["tags  FAILED", "  error              States.Runtime"]
    assert len(text.splitlines()[2]) <= 120


def test_the_demo_table_the_saving_and_the_errors():
    pairs = [{"accountId": "111111111111", "region": r} for r in ("us-east-1", "eu-west-1")]
    full = {
        "sync": "inventory",
        "status": "SUCCEEDED",
        "decision": "fallback_empty",
        "workItemCount": 8,
        "pairsTotal": 8,
        "apiCallTotal": 40,
        "errorCount": 1,
        "outcome": "partial",
        "errors": [{"accountId": "1", "region": "ap-south-1", "code": "UninitializedAccountException"}],
    }
    filtered = {
        "sync": "inventory",
        "status": "SUCCEEDED",
        "decision": "filtered",
        "workItemCount": 2,
        "pairsTotal": 8,
        "pairsSkipped": 6,
        "apiCallTotal": 10,
        "errorCount": 0,
        "outcome": "complete",
        "workItems": pairs,
    }
    lines = format_runs([("inventory (first run)", full, 3.0), ("inventory (filtered)", filtered, 1.0)]).splitlines()
    assert lines[0].split() == ["run", "status", "decision", "pairs", "API", "calls", "errors", "outcome", "time"]
    assert lines[1].split() == [
        "inventory",
        "(first",
        "run)",
        "SUCCEEDED",
        "fallback_empty",
        "8/8",
        "40",
        "1",
        "partial",
        "3.0",
        "s",
    ]
    assert lines[2].split()[3:6] == ["filtered", "2/8", "10"]
    saving = format_saving(full, filtered)
    assert saving.splitlines() == [
        "The filtered inventory run scanned 2 of 8 (account, region) pairs:",
        "  111111111111: eu-west-1, us-east-1",
        "API calls: 10 against 40 for the all-regions scan before it (75% saved); 6 pairs skipped.",
    ]
    errors = format_errors([("inventory (first run)", full, 3.0)] * 7)
    assert len(errors) == 6 and "1/ap-south-1  UninitializedAccountException" in errors[0]
    assert errors[-1] == "    ... and 2 more (--json has them all)"


def test_run_json_keeps_the_stack_trace_out_of_cause(capsys):
    assert main([*RUN, "--json", "--input", '{"items": [{"no-id": 1}]}']) == 1
    summary = json.loads(capsys.readouterr().out)
    cause = json.loads(summary["cause"])
    assert cause["errorType"] == "KeyError" and "stackTrace" not in cause
    assert str(ROOT) not in summary["cause"]


def test_run_timeout_is_a_clear_message(capsys):
    import threading

    before = set(threading.enumerate())
    assert main([*RUN, "--timeout", "0.001", "--input", '{"items": [{"id": 1}]}']) == 1
    for thread in set(threading.enumerate()) - before:  # the stopped run's worker ends its current state
        thread.join(10)
    out, err = capsys.readouterr()
    assert "smoke did not finish within 0.001 s (stopped arn:aws:states:" in err
    assert "give it longer with --timeout SECONDS" in err
    assert "Traceback" not in err.split("drs-fleet-sync: ")[1] and out == ""


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_run_timeout_must_be_positive_seconds(capsys, value):
    with pytest.raises(SystemExit) as exc:
        main([*RUN, "--timeout", value])
    assert exc.value.code == 2 and "--timeout" in capsys.readouterr().err


@pytest.fixture()
def no_deploy(monkeypatch):
    """Fails the test if the sandbox starts: the input must be refused before the 6-8 s deploy."""
    from sandbox.core import Sandbox

    def deployed(self):
        raise AssertionError("the sandbox started")

    monkeypatch.setattr(Sandbox, "__enter__", deployed)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["inventory", "--input", '{"foo": 1}'], "--input is not valid for the inventory sync: foo: Extra inputs"),
        (["tags", "--input", '{"accounts": "all"}'], "accounts: Input should be a valid list"),
        (["inventory", "--input", "[1]"], "--input is not valid for the inventory sync"),
        (["inventry"], "unknown sync 'inventry'; this template defines: inventory, recovery-instances, staging, tags"),
        (["InventorySyncStateMachin"], "unknown sync"),
    ],
)
def test_bad_run_input_is_refused_before_the_sandbox_starts(capsys, no_deploy, argv, message):
    assert main(["sandbox", "run", *argv, "--fleet", "none"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("drs-fleet-sync: ") and message in err and out == "", err


@pytest.mark.parametrize("value", ["0", "-60", "fast", "nan", "inf", "3601"])
def test_serve_speed_must_be_a_positive_bounded_number(capsys, no_deploy, value):
    with pytest.raises(SystemExit) as exc:
        main(["sandbox", "serve", "--template", SMOKE, "--fleet", "none", "--speed", value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--speed" in err and "Traceback" not in err


def test_serve_speed_reaches_the_sandbox_clock(monkeypatch):
    from sandbox.core import Sandbox

    seen = {}

    def opened(self):
        seen["clock"] = self.clock
        raise KeyboardInterrupt  # as a Ctrl-C during the deploy: serve stops before serving

    monkeypatch.setattr(Sandbox, "__enter__", opened)
    assert main(["sandbox", "serve", "--template", SMOKE, "--fleet", "none", "--port", "0", "--speed", "60"]) == 0
    assert type(seen["clock"]).__name__ == "RealClock" and seen["clock"].speed == 60.0


def test_serve_on_a_busy_port_exits_2_at_once():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = ["sandbox", "serve", "--template", SMOKE, "--fleet", "none", "--port", str(port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        done = subprocess.run(
            [sys.executable, "-m", "sandbox.cli", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 2, done
    assert f"port {port} is in use" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------ the README's commands, as written

README = (ROOT / "README.md").read_text()


def _readme_lines() -> list[str]:
    """Every command line of the README's bash blocks, continuation lines joined, comments dropped."""
    blocks = re.findall(r"^```bash\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _readme_commands() -> list[list[str]]:
    return [shlex.split(line)[1:] for line in _readme_lines() if line.startswith(".venv/bin/drs-fleet-sync ")]


def _readme_runs() -> list[list[str]]:
    """The README's `sandbox run` commands (those with --endpoint are test_readme_serve's)."""
    return [argv for argv in _readme_commands() if argv[:2] == ["sandbox", "run"] and "--endpoint" not in argv]


def test_the_readme_shows_sandbox_runs_and_serve():
    assert len(_readme_runs()) >= 3 and any(argv[:2] == ["sandbox", "serve"] for argv in _readme_commands())


def _assert_the_readmes_demo_figure(summary: dict) -> None:
    """README: on the demo fleet the first inventory run reports N errors, its deliberate access-denied pair."""
    figure = re.search(r"on the demo fleet the first inventory run reports (\d+) errors?", README)
    assert figure, "the README no longer quotes the demo's first-run errors: update this test"
    assert summary["errorCount"] == int(figure.group(1))
    assert [(e["accountId"], e["region"], e["code"]) for e in summary["errors"]] == [
        ("222222222222", "us-west-2", "AccessDeniedException")
    ]


def test_the_readme_runs_the_demos_first_inventory_as_json():
    """The README's first command is the demo's first inventory run, whose figure it quotes."""
    first = _readme_runs()[0]
    assert first[:3] == ["sandbox", "run", "inventory"] and "--json" in first and "--input" not in first
    assert "events/fleets/demo.yaml" in first


@pytest.mark.parametrize("argv", _readme_runs(), ids=" ".join)
def test_the_readme_sandbox_commands_run_as_written(capsys, argv):
    assert main(argv) == 0, argv
    out, _ = capsys.readouterr()
    if "--json" in argv:
        summary = json.loads(out)
        assert summary["status"] == "SUCCEEDED"
        if argv[:3] == ["sandbox", "run", "inventory"] and "--input" not in argv:
            _assert_the_readmes_demo_figure(summary)
    else:
        assert re.match(r"\S+  SUCCEEDED\n", out), out


def test_the_readme_demo_runs_as_written_and_is_what_make_demo_runs(capsys):
    (demo,) = [argv for argv in _readme_commands() if argv[:2] == ["sandbox", "demo"]]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:.*\n\t\$\(VENV\)/bin/drs-fleet-sync " + " ".join(demo) + "$", makefile, re.MULTILINE)
    assert main(demo) == 0
    out, _ = capsys.readouterr()
    runs = int(re.search(r"^(\d+)/(\d+) runs succeeded", out, re.MULTILINE).group(2))  # type: ignore[union-attr]
    assert f"{runs}/{runs} runs succeeded" in out and runs >= 4, out
    calls, full = map(int, re.search(r"API calls: (\d+) against (\d+) .*% saved", out).groups())  # type: ignore[union-attr]
    assert calls < full, out  # the filtered run against the all-regions run


def test_the_readmes_python_block_runs_as_written():
    (block,) = re.findall(r"^```python\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)  # the README's own example
    assert scope["summary"]["status"] == "SUCCEEDED" and scope["rows"], scope["summary"]


def test_the_readme_names_files_query_parameters_and_routes_that_exist():
    from fleet_sync.api.openapi import build_openapi

    for path in re.findall(r"(?:file://|--event-file |--fleet )((?:events|tests)/[\w./-]+)", README):
        assert (ROOT / path).is_file(), path
    document = build_openapi()
    for url in re.findall(r'"\$API(/[^"]+)"', README):
        path, _, query = url.partition("?")
        (operations,) = [
            ops for name, ops in document["paths"].items() if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", name), path)
        ]
        declared = {p["name"] for op in operations.values() for p in op.get("parameters", []) if p["in"] == "query"}
        given = {pair.split("=")[0] for pair in query.split("&") if pair}
        assert given <= declared, (url, given - declared)
    for name in re.findall(r"`GET [^`?]+\?(\w+)=", README):
        assert any(
            p["name"] == name
            for ops in document["paths"].values()
            for op in ops.values()
            for p in op.get("parameters", [])
        ), name


def test_the_readme_shows_the_environment_serve_prints():
    env_line = next(line for line in _readme_lines() if line.startswith("export AWS_ENDPOINT_URL="))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        assert f"{name}=" in env_line
    lines = README.splitlines()
    for i, line in enumerate(lines):
        if "--cli-binary-format" in line and not line.lstrip().startswith("#"):
            first = i
            while lines[first - 1].rstrip().endswith("\\"):  # the command's first line
                first -= 1
            assert "CLI v2" in lines[first - 1] and "v1" in lines[first - 1], lines[first - 1]
