"""Step Functions: a Distributed Map's items are child executions, as in AWS.

moto 5.2.5 runs a map run's items in one shared event stream and keeps no record of them: AWS runs each
item as a child execution with an ARN of its own (``execution:<machine>/<label>:<id>``) that
``ListExecutions(mapRunArn=...)`` lists and ``DescribeExecution`` / ``GetExecutionHistory`` answer, with
its own history starting at ``ExecutionStarted``. ``install_map_run_children()`` does the same and returns
the undo; ``children_of(map_run_arn)`` are the records, for the sandbox's own helpers. ListMapRuns and
DescribeMapRun are answered here too: moto's fail while any execution has only just started.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChildExecution", "children_of", "install_map_run_children"]

_lock = threading.Lock()
_children: dict[str, ChildExecution] = {}  # child execution ARN -> record


@dataclass
class ChildExecution:
    """One item of a map run, as DescribeExecution shows it."""

    arn: str
    map_run_arn: str
    state_machine_arn: str
    input: str
    start: dt.datetime
    events: Any  # the child's own moto EventManager
    status: str = "RUNNING"
    stop: dt.datetime | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    order: int = field(default=0)

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "executionArn": self.arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start,
            "input": self.input,
            "inputDetails": {"included": True},
            "mapRunArn": self.map_run_arn,
        }
        if self.stop is not None:
            out["stopDate"] = self.stop
        if self.output is not None:
            out["output"] = self.output
            out["outputDetails"] = {"included": True}
        out.update({k: v for k, v in (("error", self.error), ("cause", self.cause)) if v is not None})
        return out

    def list_item(self) -> dict[str, Any]:
        keep = ("executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate", "mapRunArn")
        return {k: v for k, v in self.describe().items() if k in keep}


def children_of(map_run_arn: str) -> list[ChildExecution]:
    """The child executions of one map run, in the order they started."""
    with _lock:
        found = [c for c in _children.values() if c.map_run_arn == map_run_arn]
    return sorted(found, key=lambda c: c.order)


def _child(arn: str) -> ChildExecution | None:
    with _lock:
        return _children.get(arn)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _event_details(**details: Any) -> Any:
    """moto's EventDetails is a TypedDict of every kind of details: one kind per event is a plain dict."""
    return details


def _open_child(env: Any, record: Any, job_input: Any) -> ChildExecution:
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext, EventManager

    map_run_arn = record.map_run_arn
    machine_and_label = map_run_arn.split(":mapRun:", 1)[1].rsplit(":", 1)[0]
    prefix = map_run_arn.split(":mapRun:", 1)[0]
    text = json.dumps(job_input, separators=(",", ":"))
    child = ChildExecution(
        arn=f"{prefix}:execution:{machine_and_label}:{uuid.uuid4()}",
        map_run_arn=map_run_arn,
        state_machine_arn=f"{prefix}:stateMachine:{machine_and_label}",
        input=text,
        start=_now(),
        events=EventManager(),
    )
    env.event_manager = child.events
    env.event_history_context = EventHistoryContext.of_program_start()
    child.events.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.ExecutionStarted,
        event_details=_event_details(
            executionStartedEventDetails={"input": text, "inputDetails": {"truncated": False}}
        ),
    )
    with _lock:
        child.order = len(_children)
        _children[child.arn] = child
    return child


def _close_child(env: Any, child: ChildExecution, output: Any) -> None:
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped

    state = env.program_state()
    if isinstance(state, ProgramError) or (output is None and not isinstance(state, ProgramStopped)):
        error = dict(state.error or {}) if isinstance(state, ProgramError) else {}
        child.status, child.error, child.cause = "FAILED", _text(error.get("error")), _text(error.get("cause"))
        kind, details = (
            HistoryEventType.ExecutionFailed,
            _event_details(executionFailedEventDetails=error),
        )
    elif isinstance(state, ProgramStopped):
        child.status = "ABORTED"
        kind, details = (
            HistoryEventType.ExecutionAborted,
            _event_details(executionAbortedEventDetails={}),
        )
    else:
        child.status, child.output = "SUCCEEDED", json.dumps(output, separators=(",", ":"))
        kind, details = (
            HistoryEventType.ExecutionSucceeded,
            _event_details(
                executionSucceededEventDetails={"output": child.output, "outputDetails": {"truncated": False}}
            ),
        )
    child.events.add_event(context=env.event_history_context, event_type=kind, event_details=details)
    child.stop = _now()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _history(child: ChildExecution) -> list[dict[str, Any]]:
    events = []
    for event in child.events.get_event_history():
        event = dict(event)
        event["type"] = str(getattr(event["type"], "value", event["type"]))
        if isinstance(event.get("timestamp"), str):
            event["timestamp"] = dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        events.append(event)
    return events


def _patch_worker() -> Callable[[], None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as dipw,
    )

    cls = dipw.DistributedItemProcessorWorker
    original = cls._eval_job

    def _eval_job(self: Any, env: Any, job: Any) -> None:
        child = _open_child(env, self._map_run_record, job.job_input)
        try:
            original(self, env, job)
        finally:
            _close_child(env, child, job.job_output)

    setattr(cls, "_eval_job", _eval_job)  # noqa: B010
    return lambda: setattr(cls, "_eval_job", original)


def _page(items: list[dict[str, Any]], max_results: int | None, token: str | None) -> dict[str, Any]:
    start = int(token) if token and token.isdigit() else 0
    size = max_results or 100
    out: dict[str, Any] = {"executions": items[start : start + size]}
    if start + size < len(items):
        out["nextToken"] = str(start + size)
    return out


def _records(backend: Any) -> list[Any]:
    """Every map run record; an execution whose worker has not built its environment yet has none (moto
    reads them without that check, so one just-started execution broke every DescribeMapRun and ListMapRuns)."""
    records = []
    for execution in backend._get_executions():
        env = getattr(execution.exec_worker, "env", None) if execution.exec_worker else None
        if env is not None:
            records += env.map_run_record_pool_manager.get_all()
    return records


def _require_map_run(backend: Any, map_run_arn: str | None) -> dict[str, Any]:
    """DescribeMapRun's answer, or ResourceNotFound as AWS answers it."""
    from moto.stepfunctions.exceptions import ResourceNotFound

    for record in _records(backend):
        if record.map_run_arn == map_run_arn:
            return dict(record.describe())
    raise ResourceNotFound(str(map_run_arn))


def _map_runs_of(backend: Any, execution_arn: str) -> dict[str, Any]:
    """ListMapRuns: an execution that has not started its environment has run no map yet."""
    execution = backend.describe_execution(execution_arn=execution_arn)  # ExecutionDoesNotExist as AWS
    env = getattr(execution.exec_worker, "env", None) if execution.exec_worker else None
    records = env.map_run_record_pool_manager.get_all() if env is not None else []
    return {"mapRuns": [record.list_item() for record in records]}


def _patch_responses() -> Callable[[], None]:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    originals = {
        name: getattr(StepFunctionResponse, name)
        for name in (
            "list_executions",
            "describe_execution",
            "get_execution_history",
            "describe_map_run",
            "list_map_runs",
        )
    }

    def list_map_runs(self: Any) -> Any:
        return ActionResult(_map_runs_of(self.stepfunction_backend, self._get_param("executionArn")))

    def describe_map_run(self: Any) -> Any:
        return ActionResult(_require_map_run(self.stepfunction_backend, self._get_param("mapRunArn")))

    def list_executions(self: Any) -> Any:
        map_run_arn = self._get_param("mapRunArn")
        if not map_run_arn:
            return originals["list_executions"](self)
        _require_map_run(self.stepfunction_backend, map_run_arn)
        status = self._get_param("statusFilter")
        items = [c.list_item() for c in children_of(map_run_arn) if not status or c.status == status]
        items.reverse()  # newest first, as ListExecutions orders
        return ActionResult(_page(items, self._get_int_param("maxResults"), self._get_param("nextToken")))

    def describe_execution(self: Any) -> Any:
        child = _child(self._get_param("executionArn") or "")
        return originals["describe_execution"](self) if child is None else ActionResult(child.describe())

    def get_execution_history(self: Any) -> Any:
        child = _child(self._get_param("executionArn") or "")
        if child is None:
            return originals["get_execution_history"](self)
        events = _history(child)
        return ActionResult({"events": events[::-1] if self._get_param("reverseOrder") else events})

    return _override(
        StepFunctionResponse,
        originals,
        {
            "list_executions": list_executions,
            "describe_execution": describe_execution,
            "get_execution_history": get_execution_history,
            "describe_map_run": describe_map_run,
            "list_map_runs": list_map_runs,
        },
    )


def _override(cls: Any, originals: dict[str, Any], replacements: dict[str, Any]) -> Callable[[], None]:
    for name, fn in replacements.items():
        setattr(cls, name, fn)

    def undo() -> None:
        for name, fn in originals.items():
            setattr(cls, name, fn)

    return undo


def install_map_run_children() -> Callable[[], None]:
    """Record every Distributed Map item as a child execution and serve it through the API; returns the undo."""
    undo_worker = _patch_worker()
    undo_responses = _patch_responses()

    def undo() -> None:
        undo_responses()
        undo_worker()
        with _lock:
            _children.clear()

    return undo
