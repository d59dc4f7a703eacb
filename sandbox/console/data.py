"""What the console shows, read only through AWS's Step Functions API and the product's query API.

`ConsoleData(sfn, query)` takes a Step Functions client (ListStateMachines, DescribeStateMachine,
ListExecutions, DescribeExecution, GetExecutionHistory, ListMapRuns, DescribeMapRun) and a `query(path, params)`
callable for the product's read-only routes (`GET /regions`, `GET /inventory`, ...), answering
`(status, body)`. Nothing here reaches into moto or the tables: the same class could read a real account.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleet_sync.core.clock import utc_now
from fleet_sync.run.models import SyncInput
from fleet_sync.run.plan import build_plan
from fleet_sync.run.region_status import RegionStatus

from .graph import StateGraph, StateRun, graph_of, layout, statuses

Query = Callable[[str, dict[str, Any]], tuple[int, Any]]
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
WORKER_STATE_PREFIX = "Scan"  # the item processor's task that runs the sync's worker


class ConsoleError(Exception):
    """Something the console was asked for does not exist or could not be read (shown as the page's error)."""


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def duration_ms(start: Any, stop: Any) -> int | None:
    if not isinstance(start, dt.datetime):
        return None
    end = stop if isinstance(stop, dt.datetime) else dt.datetime.now(start.tzinfo or dt.UTC)
    return int((end - start).total_seconds() * 1000)


@dataclass
class ExecutionRow:
    """One execution as the index lists it."""

    arn: str
    name: str
    machine: str
    status: str
    start: dt.datetime | None
    stop: dt.datetime | None
    decision: str | None = None
    outcome: str | None = None
    input: Any = None
    output: Any = None
    error: str | None = None
    cause: str | None = None

    @property
    def duration_ms(self) -> int | None:
        return duration_ms(self.start, self.stop)


@dataclass
class MapRunRow:
    """One child execution of a map run: one (account, region) work item."""

    arn: str
    account: str
    region: str
    status: str
    start: dt.datetime | None
    stop: dt.datetime | None
    item_status: str | None = None  # the region status the worker reported
    error: str | None = None
    api_calls: int | None = None
    server_count: int | None = None

    @property
    def duration_ms(self) -> int | None:
        return duration_ms(self.start, self.stop)


@dataclass
class MapRunView:
    arn: str
    description: dict[str, Any]
    rows: list[MapRunRow]


@dataclass
class ExecutionView:
    row: ExecutionRow
    events: list[dict[str, Any]]
    graph: StateGraph
    states: dict[str, StateRun]
    map_runs: list[dict[str, Any]] = field(default_factory=list)


def _row_of(desc: dict[str, Any], machine: str) -> ExecutionRow:
    output = _json(desc.get("output"))
    summary = output if isinstance(output, dict) else {}
    return ExecutionRow(
        arn=desc["executionArn"],
        name=desc.get("name") or desc["executionArn"].rsplit(":", 1)[-1],
        machine=machine,
        status=desc["status"],
        start=desc.get("startDate"),
        stop=desc.get("stopDate"),
        decision=summary.get("decision"),
        outcome=summary.get("outcome"),
        input=_json(desc.get("input")),
        output=output,
        error=desc.get("error"),
        cause=desc.get("cause"),
    )


def _worker_result(events: list[dict[str, Any]]) -> tuple[dict[str, Any], str | None]:
    """The worker's item result (its last TaskSucceeded payload) and the last task error of a child's history."""
    result: dict[str, Any] = {}
    error = None
    for event in events:
        if event["type"] == "TaskSucceeded":
            payload = _json(event.get("taskSucceededEventDetails", {}).get("output"))
            if isinstance(payload, dict) and isinstance(payload.get("Payload"), dict):
                result = payload["Payload"]
        elif event["type"] in ("TaskFailed", "TaskTimedOut"):
            details = event.get("taskFailedEventDetails") or event.get("taskTimedOutEventDetails") or {}
            error = details.get("error")
    return result, error


class ConsoleData:
    def __init__(self, sfn: Any, query: Query | None = None) -> None:
        self.sfn = sfn
        self.query_api = query
        self._definitions: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ state machines and executions
    def state_machines(self) -> list[dict[str, Any]]:
        machines: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("list_state_machines").paginate():
            machines += page["stateMachines"]
        return sorted(machines, key=lambda m: m["name"])

    def definition(self, state_machine_arn: str) -> dict[str, Any]:
        if state_machine_arn not in self._definitions:
            desc = self.sfn.describe_state_machine(stateMachineArn=state_machine_arn)
            self._definitions[state_machine_arn] = json.loads(desc["definition"])
        return self._definitions[state_machine_arn]

    def executions(self, state_machine_arn: str, limit: int = 20) -> list[ExecutionRow]:
        """The newest executions of one machine, each described (for its decision, outcome and duration)."""
        listed = self.sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=limit)["executions"]
        machine = state_machine_arn.rsplit(":", 1)[-1]
        return [_row_of(self.sfn.describe_execution(executionArn=e["executionArn"]), machine) for e in listed]

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events += page["events"]
        return events

    def describe(self, execution_arn: str) -> dict[str, Any]:
        try:
            return dict(self.sfn.describe_execution(executionArn=execution_arn))
        except self.sfn.exceptions.ExecutionDoesNotExist as exc:
            raise ConsoleError(f"no execution {execution_arn}") from exc
        except self.sfn.exceptions.InvalidArn as exc:
            raise ConsoleError(f"not an execution ARN: {execution_arn}") from exc

    def execution(self, execution_arn: str) -> ExecutionView:
        desc = self.describe(execution_arn)
        machine_arn = desc["stateMachineArn"]
        row = _row_of(desc, machine_arn.rsplit(":", 1)[-1])
        events = self.history(execution_arn)
        graph = layout(graph_of(self.definition(machine_arn)))
        map_runs = self.sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
        return ExecutionView(row, events, graph, statuses(events, row.status), map_runs)

    # ------------------------------------------------------------------ map runs
    def map_run(self, map_run_arn: str, status: str | None = None) -> MapRunView:
        """The map run and one row per child execution, optionally only those with `status`."""
        try:
            description = dict(self.sfn.describe_map_run(mapRunArn=map_run_arn))
        except self.sfn.exceptions.ResourceNotFound as exc:
            raise ConsoleError(f"no map run {map_run_arn}") from exc
        description.pop("ResponseMetadata", None)
        kw = {"statusFilter": status} if status else {}
        children: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("list_executions").paginate(mapRunArn=map_run_arn, **kw):
            children += page["executions"]
        rows = [self._map_run_row(child["executionArn"]) for child in children]
        return MapRunView(map_run_arn, description, sorted(rows, key=lambda r: (r.account, r.region)))

    def _map_run_row(self, child_arn: str) -> MapRunRow:
        desc = self.sfn.describe_execution(executionArn=child_arn)
        item = _json(desc.get("input"))
        item = item if isinstance(item, dict) else {}
        result, task_error = _worker_result(self.history(child_arn))
        calls = result.get("apiCalls")
        return MapRunRow(
            arn=child_arn,
            account=str(item.get("accountId", "?")),
            region=str(item.get("region", "?")),
            status=desc["status"],
            start=desc.get("startDate"),
            stop=desc.get("stopDate"),
            item_status=result.get("status"),
            error=result.get("errorCode") or task_error or desc.get("error"),
            api_calls=sum(calls.values()) if isinstance(calls, dict) else None,
            server_count=result.get("serverCount"),
        )

    # ------------------------------------------------------------------ the product's query API
    def query(self, path: str, params: dict[str, Any] | None = None) -> Any:
        if self.query_api is None:
            raise ConsoleError("no query API configured")
        status, body = self.query_api(path, {k: v for k, v in (params or {}).items() if v not in (None, "")})
        if status != 200:
            message = body.get("message") if isinstance(body, dict) else body
            raise ConsoleError(f"GET {path}: {status} {message}")
        return body

    def regions(self, discovery_age_hours: float = 6.0) -> dict[str, Any]:
        """`GET /regions`, plus `nextScan`: the pairs the next filtered plan will scan, by the layer's own rule
        (its accounts are those with status rows: an account without any is scanned everywhere anyway)."""
        body = dict(self.query("/regions"))
        rows = [RegionStatus(**row) for row in body.get("statuses", [])]
        plan = build_plan(
            request=SyncInput(),
            registered_accounts=sorted({r.accountId for r in rows}),
            all_regions=list(body.get("regions", [])),
            statuses=rows,
            filtering=True,
            discovery_age=dt.timedelta(hours=discovery_age_hours),
            now=utc_now(),
        )
        body["nextScan"] = [(i["accountId"], i["region"]) for i in plan.items] if rows else []
        return body

    def inventory(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self.query("/inventory", params))

    def failback_topology(self, source_server_id: str) -> dict[str, Any]:
        return dict(self.query(f"/inventory/{source_server_id}/failback-topology"))
