"""What a run left behind, as the sandbox hands it back: the summary, the history, table items as JSON."""

from __future__ import annotations

import base64
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
