"""The command line's input, checked before anything is deployed: numbers, parameters, paths, the run's
`--input` against the sync's own model, and the port `serve` binds. Each failure is a :class:`UsageError`
(exit code 2) naming what is wrong."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path
from typing import Any

STATE_MACHINES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")


class UsageError(Exception):
    """Bad input from the command line: reported on stderr, exit code 2."""


def seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds <= 86400:
        raise argparse.ArgumentTypeError(f"{value} s: give more than 0 and at most 86400")
    return seconds


def parameters(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {pair!r}: expected NAME=VALUE")
        params[name] = value
    return params


def fleet_path(value: str | None) -> Path | None:
    from .core import resolve_path

    if value is None or value.lower() in ("", "none"):
        return None
    path = resolve_path(value)
    if not path.is_file():
        raise UsageError(f"fleet file {value} does not exist")
    return path


def template_path(value: str) -> Path:
    from .core import resolve_path

    path = resolve_path(value)
    if not path.is_file():
        raise UsageError(f"template {value} does not exist")
    return path


def run_input(value: str | None) -> Any:
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


def defines_syncs(template: Path) -> bool:
    """True when the template has a state machine that declares DefinitionSubstitutions.SyncName."""
    from .stack import load_template

    return any(
        "SyncName" in ((res.get("Properties") or {}).get("DefinitionSubstitutions") or {})
        for res in load_template(template)["Resources"].values()
        if res.get("Type") in STATE_MACHINES
    )


def machine_names(template: Path) -> dict[str, str] | None:
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
    names = machine_names(template)
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


def port_in_use(host: str, port: int) -> bool:
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
    if port_in_use(host, port):
        raise UsageError(f"port {port} is in use on {host}: pick another with --port (0 picks a free one)")
