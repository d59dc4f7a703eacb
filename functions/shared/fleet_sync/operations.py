"""Direct Lambda invocation of the data-management function: `{"operation": NAME, ...}`.

Authorization is IAM's (lambda:InvokeFunction on the function); nothing here inspects callers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import aws
from .errors import InvalidSyncInput
from .settings import Settings
from .syncs import sync_spec

Operation = Callable[[dict[str, Any], Settings], dict[str, Any]]


class InvalidOperation(InvalidSyncInput):
    """The direct invocation names no known operation or carries a bad field."""


class DirectInvocation(BaseModel):
    model_config = ConfigDict(extra="allow")

    operation: str = Field(min_length=1)


def state_machine_arn(sync: str, settings: Settings, *, region: str, account_id: str) -> str:
    return f"arn:aws:states:{region}:{account_id}:stateMachine:{settings.stack_name}-{sync_spec(sync).machine_suffix}"


def start_sync(
    sync: str, sync_input: dict[str, Any] | None, settings: Settings, *, name: str | None = None
) -> dict[str, Any]:
    """Start a sync's state machine (the input is validated by its first state)."""
    sts = aws.client("sts")
    sfn = aws.client("stepfunctions")
    arn = state_machine_arn(
        sync, settings, region=sfn.meta.region_name, account_id=sts.get_caller_identity()["Account"]
    )
    import json
    import uuid

    kwargs = {"stateMachineArn": arn, "input": json.dumps(sync_input or {}), "name": name or f"{sync}-{uuid.uuid4()}"}
    started = sfn.start_execution(**kwargs)
    return {"sync": sync, "executionArn": started["executionArn"], "startDate": started["startDate"].isoformat()}


def _sync_operation(sync: str) -> Operation:
    def run(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
        return start_sync(sync, event.get("input"), settings)

    return run


def _recovery_instance_sync_status(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    from .recovery_instances import get_recovery_instance_sync_status  # loaded when used

    return get_recovery_instance_sync_status(settings)


OPERATIONS: dict[str, Operation] = {
    "sync_source_server_inventory": _sync_operation("inventory"),
    "handle_drs_tag_sync": _sync_operation("tags"),
    "sync_staging_accounts": _sync_operation("staging"),
    "sync_recovery_instances": _sync_operation("recovery-instances"),
    "get_recovery_instance_sync_status": _recovery_instance_sync_status,
}


def dispatch(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    call = DirectInvocation.model_validate(event)
    op = OPERATIONS.get(call.operation)
    if op is None:
        raise InvalidOperation(f"unknown operation {call.operation!r}; known: {sorted(OPERATIONS)}")
    return op(event, settings)
