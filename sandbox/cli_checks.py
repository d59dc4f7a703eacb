"""What the CLI checks before it starts a sandbox (the sync's name and input, the serve port), and what it
tidies on the way out (a timed-out run, stack traces in a summary)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

STATE_MACHINES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")


class UsageError(Exception):
    """Bad input from the command line: reported on stderr, exit code 2."""


def _machine_names(template: Path) -> dict[str, str] | None:
    """The names a state machine answers to (short name, logical id, a literal Name) -> its short name, read
    from the template before anything deploys (as sandbox.names names them); None when a short name is only
    known once deployed. A generated physical name is not known yet: it is not accepted here."""
    from .names import kebab
    from .stack import load_template

    out: dict[str, str] = {}
    for lid, res in load_template(template)["Resources"].items():
        if res.get("Type") not in STATE_MACHINES:
            continue
        props = res.get("Properties") or {}
        sync = (props.get("DefinitionSubstitutions") or {}).get("SyncName")
        if sync is not None and not isinstance(sync, str):
            return None
        short = sync or kebab(lid.removesuffix("StateMachine")) or lid.lower()
        name = props.get("Name")  # the physical name, when the template writes it out
        out.update({short: short, lid: short, **({name: short} if isinstance(name, str) else {})})
    return out


def check_run(sync: str, template: Path, payload: Any) -> None:
    """An unknown sync, or an input the sync's own model refuses, is bad input: found before the deploy."""
    names = _machine_names(template)
    if names is None:
        return
    if sync not in names:
        known = ", ".join(sorted(set(names.values()))) or "none"
        raise UsageError(f"unknown sync {sync!r}; this template defines: {known}")
    from pydantic import ValidationError

    from fleet_sync.run.registry import SYNCS, sync_spec

    short = names[sync]
    if short not in SYNCS:
        return
    try:
        sync_spec(short).input_model.model_validate({} if payload is None else payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise UsageError(f"--input is not valid for the {short} sync: {problems}") from None


MAX_SPEED = 3600.0  # an hour of the sandbox per real second: past that a 2-minute rate fires faster than a run


def clock_speed(value: str) -> float:
    """`serve --speed`: sandbox seconds per real second, a number above 0 and at most MAX_SPEED."""
    import argparse

    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 < speed <= MAX_SPEED:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"{value}: give a speed above 0 and at most {MAX_SPEED:g}")
    return speed


def _port_in_use(host: str, port: int) -> bool:
    """Whether something listens on (host, port) already: the HTTP server would fail to bind it."""
    if port == 0:
        return False
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def require_free_port(host: str, port: int) -> None:
    if _port_in_use(host, port):
        raise UsageError(f"port {port} is in use on {host}: pick another with --port (0 picks a free one)")


def public_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without a Lambda error's stack trace (local paths) inside `cause`."""
    cause = summary.get("cause")
    if not isinstance(cause, str):
        return summary
    try:
        parsed = json.loads(cause)
    except ValueError:
        return summary
    if isinstance(parsed, dict) and "stackTrace" in parsed:
        parsed.pop("stackTrace")
        return {**summary, "cause": json.dumps(parsed)}
    return summary


def stop_execution(sb: Any, arn: str, cause: str) -> None:
    """StopExecution, retried while moto's worker is still starting (it fails until the run has begun)."""
    sfn = sb.client("stepfunctions")
    for _ in range(40):
        try:
            sfn.stop_execution(executionArn=arn, cause=cause)
            return
        except AttributeError:
            time.sleep(0.05)
