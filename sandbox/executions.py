"""What a run left behind, as the sandbox hands it back: the summary, the history, table items as JSON."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any


def plain(value: Any) -> Any:
    """DynamoDB values as plain JSON types: Decimal -> int/float, sets -> sorted lists, Binary -> base64."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=lambda v: (str(type(v)), v))
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value") and isinstance(value.value, (bytes, bytearray)):  # boto3 Binary
        return base64.b64encode(bytes(value.value)).decode()
    return value


def summary_of(sync: str, desc: dict[str, Any]) -> dict[str, Any]:
    """The summary dict `Sandbox.run_sync` returns, from a DescribeExecution result."""
    status = desc["status"]
    arn = desc["executionArn"]
    if status != "SUCCEEDED":
        return {
            "sync": sync,
            "status": status,
            "executionArn": arn,
            "error": desc.get("error") or status,
            "cause": desc.get("cause") or "",
        }
    output = json.loads(desc.get("output") or "null")
    summary = output if isinstance(output, dict) else {"output": output}
    summary.setdefault("sync", sync)
    summary["status"] = status
    summary["executionArn"] = arn
    return summary


def history_pages(sfn: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        kw: dict[str, str] = {"nextToken": token} if token else {}
        page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000, **kw)
        yield from page["events"]
        token = page.get("nextToken")
        if not token:
            return


def map_run_events(manager: Any, map_run_arn: str) -> list[dict[str, Any]]:
    """The events of a Distributed Map run's child workflows from its captured moto EventManager, shaped
    like GetExecutionHistory's (type names, datetime timestamps), each tagged with `mapRunArn`."""
    out = []
    for event in manager.get_event_history():
        event = dict(event)
        event["type"] = str(getattr(event["type"], "value", event["type"]))
        if isinstance(event.get("timestamp"), str):
            event["timestamp"] = dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        event["mapRunArn"] = map_run_arn
        out.append(event)
    return out


def capture_map_run_events(registry: dict[str, Any]) -> Any:
    """moto 5.2.5 gives each Distributed Map run a fresh EventManager and drops it afterwards; keep it
    (keyed by map run ARN) so `Sandbox.history(include_children=True)` can show what the items did.
    Returns the undo."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as dic,
    )

    cls = dic.DistributedIterationComponent
    original = cls._map_run

    def _map_run(self_: Any, env: Any, eval_input: Any) -> Any:
        registry[eval_input.map_run_record.map_run_arn] = env.event_manager
        return original(self_, env, eval_input)

    setattr(cls, "_map_run", _map_run)  # noqa: B010

    def undo() -> None:
        setattr(cls, "_map_run", original)  # noqa: B010
        registry.clear()

    return undo
