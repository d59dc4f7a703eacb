"""Starting a sync: StartExecution of its state machine (the input is validated by the machine's first state).

A scoped run takes its sync's lock before its execution starts, so that a caller meeting another run of the
sync is told so (SyncBusy) instead of being given an execution that would race it. A caller that cannot be
answered later (a DRS event) starts it anyway with `wait_for_lock`: the execution then waits for the lock in
its first state (docs/events.md).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from pydantic import ValidationError

from ..core import aws
from ..core.errors import SyncBusy
from ..core.settings import Settings
from .registry import state_machine_name, sync_spec
from .sync_state import SyncStateStore


def state_machine_arn(sync: str, settings: Settings, *, region: str, account_id: str, partition: str = "aws") -> str:
    name = state_machine_name(settings.stack_name, sync)
    return f"arn:{partition}:states:{region}:{account_id}:stateMachine:{name}"


def execution_runs(sfn: Any, execution_arn: str) -> bool | None:
    """Whether an execution runs; None when there is no such execution."""
    try:
        return bool(sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING")
    except sfn.exceptions.ExecutionDoesNotExist:
        return None


def start_sync(
    sync: str,
    sync_input: dict[str, Any] | None,
    settings: Settings,
    *,
    name: str | None = None,
    wait_for_lock: bool = False,
) -> dict[str, Any]:
    """Start a sync's state machine: `{sync, executionArn, startDate, waitsForLock}`. A scoped run's input first
    takes the sync's lock for the execution; when another run holds it, SyncBusy and nothing is started, or with
    `wait_for_lock` the execution is started and waits for the lock (`waitsForLock`)."""
    sts = aws.client("sts")
    sfn = aws.client("stepfunctions")
    arn = state_machine_arn(
        sync, settings, region=sfn.meta.region_name, account_id=sts.get_caller_identity()["Account"]
    )
    name = name or f"{sync}-{uuid.uuid4()}"
    execution_arn = f"{arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
    lock = _lock_for_scoped_run(sync, sync_input, execution_arn, settings, sfn)
    if lock == "busy" and not wait_for_lock:
        raise _busy(sync, settings)
    try:
        started = sfn.start_execution(stateMachineArn=arn, input=json.dumps(sync_input or {}), name=name)
    except Exception:
        if lock == "taken":
            SyncStateStore.of(settings).release_lock(sync, execution_arn)
        raise
    return {
        "sync": sync,
        "executionArn": started["executionArn"],
        "startDate": started["startDate"].isoformat(),
        "waitsForLock": lock == "busy",
    }


def _lock_for_scoped_run(
    sync: str, sync_input: dict[str, Any] | None, execution_arn: str, settings: Settings, sfn: Any
) -> Literal["taken", "busy", "not scoped"]:
    """Take the sync's lock for a scoped run about to start. Any other run takes the lock in its first state
    and ends `skipped` when another run holds it."""
    try:
        scoped = sync_spec(sync).input_model.model_validate(sync_input or {}).scoped
    except ValidationError:
        return "not scoped"  # the execution's first state refuses the input, as for every start
    if not scoped:
        return "not scoped"
    taken = SyncStateStore.of(settings).acquire_lock(
        sync, execution_arn, is_running=lambda arn: execution_runs(sfn, arn), starting=True
    )
    return "taken" if taken else "busy"


def _busy(sync: str, settings: Settings) -> SyncBusy:
    holder = SyncStateStore.of(settings).lock(sync) or {}
    return SyncBusy(
        f"another run of the {sync} sync holds its lock (execution {holder.get('executionArn', 'unknown')}, "
        f"since {holder.get('acquiredAt', 'unknown')}): a scoped run does not start beside it; "
        "try again when that run has finished"
    )
