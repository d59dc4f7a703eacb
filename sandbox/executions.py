"""What a run left behind, as the sandbox hands it back (the summary, the history, table items as JSON, the
log lines), and how running executions end when a sandbox closes."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

log = logging.getLogger(__name__)


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


def map_run_history(sfn: Any, map_run_arn: str) -> list[dict[str, Any]]:
    """The events of a map run's child executions (ListExecutions(mapRunArn), GetExecutionHistory of each),
    oldest child first, each event tagged with `mapRunArn`."""
    children = []
    for page in sfn.get_paginator("list_executions").paginate(mapRunArn=map_run_arn):
        children += page["executions"]
    events = []
    for child in sorted(children, key=lambda c: c["startDate"]):
        events += [{**e, "mapRunArn": map_run_arn} for e in history_pages(sfn, child["executionArn"])]
    return events


def log_lines(account: str, region: str, function: str) -> list[dict[str, Any]]:
    """The events of `/aws/lambda/<function>` in moto's CloudWatch Logs: a JSON line as its record, a plain
    one as `{"message": line}`, each with `function` and `timestamp` (ms)."""
    from moto.logs.models import logs_backends

    group = logs_backends[account][region].groups.get(f"/aws/lambda/{function}")
    out: list[dict[str, Any]] = []
    for stream in list(group.streams.values()) if group else []:
        for event in list(stream.events):
            try:
                record = json.loads(event.message)
            except ValueError:
                record = None
            line = record if isinstance(record, dict) else {"message": event.message}
            out.append({**line, "function": function, "timestamp": event.timestamp})
    return out


def running_executions(account: str, region: str) -> list[Any]:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[account][region]
    return [e for sm in list(backend.state_machines) for e in list(sm.executions) if e.status == "RUNNING"]


def _stopped(execution: Any) -> bool:
    from .moto_patches import is_stopped

    worker = getattr(execution, "exec_worker", None)
    return execution.status != "RUNNING" or is_stopped(getattr(worker, "env", None))


def finish_executions(sb: Any, lambdas: Any, timeout: float, threads_before: set[int | None]) -> None:
    """Let the running executions finish, on the sandbox clock, for up to `timeout` real seconds; stop the
    rest (StopExecution, error `Sandbox.Closed`) and the handlers they are running, then wait for moto's
    interpreter threads, so nothing calls a service after the sandbox is gone."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    if getattr(sb, "scheduler", None) is not None:  # no scheduled run starts while the others finish
        sb.scheduler.stop()

    def running() -> list[Any]:
        return running_executions(sb.account, sb.region)

    if timeout > 0 and running():
        sb.clock.wait_until(lambda: not running(), None, poll=0.01, real_limit=timeout)
    stopping = running()
    for execution in stopping:
        log.warning("stopping %s: the sandbox is closing", execution.execution_arn)
        sb.client("stepfunctions").stop_execution(
            executionArn=execution.execution_arn, error="Sandbox.Closed", cause="the sandbox was closed"
        )
    # only once every stop has landed: a handler stopped before would fail its task, and so its execution
    sb.clock.wait_until(lambda: all(_stopped(e) for e in stopping), None, poll=0.005, real_limit=5)
    lambdas.stop_all()  # a handler still running returns, so its execution's thread can end
    deadline = time.monotonic() + 5
    for thread in [t for t in TMP_THREADS if t.ident not in threads_before]:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    sb.clock.notify()


def select_logs(
    account: str, region: str, functions: list[str], sync: str | None, execution: str | None
) -> list[dict[str, Any]]:
    """The log lines of `functions`, oldest first; with `sync` or `execution`, only the lines carrying it."""
    lines = [line for function in functions for line in log_lines(account, region, function)]
    if sync is not None:
        lines = [x for x in lines if x.get("sync") == sync]
    if execution is not None:
        lines = [x for x in lines if x.get("executionArn") == execution]
    return sorted(lines, key=lambda x: x["timestamp"])


_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def wait_for_execution(sb: Any, execution_arn: str, timeout: float) -> dict[str, Any]:
    """`Sandbox.wait`: watch moto's record of the execution while waiting on the clock."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[sb.account][sb.region]

    def finished() -> bool:
        return str(backend.describe_execution(execution_arn).status) in _TERMINAL

    deadline = time.monotonic() + timeout
    # each wait ends by the deadline, so a timeout shorter than one wait still holds
    while not sb.clock.wait_until(
        finished, None, poll=0.005, real_limit=max(0.001, min(0.5, deadline - time.monotonic()))
    ):
        if time.monotonic() > deadline:
            status = sb.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
            raise TimeoutError(f"{execution_arn} still {status} after {timeout:.0f}s")
    desc = sb.client("stepfunctions").describe_execution(executionArn=execution_arn)
    desc.pop("ResponseMetadata", None)
    return dict(desc)


def table_items(ddb: Any, name: str) -> list[dict[str, Any]]:
    """Every item of a table (all pages), as plain JSON types."""
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    out = []
    for page in ddb.get_paginator("scan").paginate(TableName=name):
        out += [plain({k: des.deserialize(v) for k, v in item.items()}) for item in page["Items"]]
    return out
