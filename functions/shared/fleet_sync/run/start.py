"""Starting a sync: StartExecution of its state machine (the input is validated by the machine's first state).

A scoped run takes its sync's lock before its execution starts, so that a caller meeting another run of the
sync is told so (SyncBusy) instead of being given an execution that would race it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

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
    sync: str, sync_input: dict[str, Any] | None, settings: Settings, *, name: str | None = None
) -> dict[str, Any]:
    """Start a sync's state machine: `{sync, executionArn, startDate}`. A scoped run's input first takes the
    sync's lock for the execution (SyncBusy when another run holds it; nothing is started then)."""
    sts = aws.client("sts")
    sfn = aws.client("stepfunctions")
    arn = state_machine_arn(
        sync, settings, region=sfn.meta.region_name, account_id=sts.get_caller_identity()["Account"]
    )
    name = name or f"{sync}-{uuid.uuid4()}"
    execution_arn = f"{arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
    state = _lock_for_scoped_run(sync, sync_input, execution_arn, settings, sfn)
    try:
        started = sfn.start_execution(stateMachineArn=arn, input=json.dumps(sync_input or {}), name=name)
    except Exception:
        if state is not None:
            state.release_lock(sync, execution_arn)
        raise
    return {"sync": sync, "executionArn": started["executionArn"], "startDate": started["startDate"].isoformat()}


def _lock_for_scoped_run(
    sync: str, sync_input: dict[str, Any] | None, execution_arn: str, settings: Settings, sfn: Any
) -> SyncStateStore | None:
    """Take the sync's lock for a scoped run about to start (None for any other run: it takes the lock in its
    first state and ends `skipped` when another run holds it)."""
    try:
        scoped = sync_spec(sync).input_model.model_validate(sync_input or {}).scoped
    except ValidationError:
        return None  # the execution's first state refuses the input, as for every start
    if not scoped:
        return None
    state = SyncStateStore(aws.dynamodb().Table(settings.sync_state_table))
    if state.acquire_lock(sync, execution_arn, is_running=lambda arn: execution_runs(sfn, arn), starting=True):
        return state
    holder = state.lock(sync) or {}
    raise SyncBusy(
        f"another run of the {sync} sync holds its lock (execution {holder.get('executionArn', 'unknown')}, "
        f"since {holder.get('acquiredAt', 'unknown')}): a scoped run does not start beside it; "
        "try again when that run has finished"
    )
