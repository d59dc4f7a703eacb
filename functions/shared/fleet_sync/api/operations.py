"""Direct Lambda invocation of the data-management function: `{"operation": NAME, ...}`.

The operation names are the specification's, and this table is the only place they appear: each starts a
sync (its `input` is the execution input) or answers a status question. Authorization is IAM's
(lambda:InvokeFunction on the function); nothing here inspects callers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.errors import InvalidSyncInput
from ..core.settings import Settings
from ..run.start import start_sync
from ..syncs.recovery_instances.status import get_recovery_instance_sync_status

Operation = Callable[[dict[str, Any], Settings], dict[str, Any]]


class InvalidOperation(InvalidSyncInput):
    """The direct invocation names no known operation or carries a bad field."""


class DirectInvocation(BaseModel):
    model_config = ConfigDict(extra="allow")

    operation: str = Field(min_length=1)


def _starts(sync: str) -> Operation:
    def run(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
        return start_sync(sync, event.get("input"), settings)

    return run


def _recovery_instance_sync_status(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    return get_recovery_instance_sync_status(settings)


OPERATIONS: dict[str, Operation] = {
    "sync_source_server_inventory": _starts("inventory"),
    "handle_drs_tag_sync": _starts("tags"),
    "sync_staging_accounts": _starts("staging"),
    "sync_recovery_instances": _starts("recovery-instances"),
    "get_recovery_instance_sync_status": _recovery_instance_sync_status,
}


def dispatch(event: Any, settings: Settings) -> dict[str, Any]:
    known = ", ".join(sorted(OPERATIONS))
    if isinstance(event, dict) and "operation" not in event and {"httpMethod", "requestContext"} <= set(event):
        raise InvalidOperation(
            "an API Gateway request sent by direct invocation: API routes are served only through the stack's API; "
            f"operations: {known}"
        )
    try:
        call = DirectInvocation.model_validate(event)
    except ValidationError:
        shape = type(event).__name__ if not isinstance(event, dict) else "an object without a valid operation"
        raise InvalidOperation(
            f'a direct invocation is {{"operation": NAME, ...}}, got {shape}; known: {known}'
        ) from None
    op = OPERATIONS.get(call.operation)
    if op is None:
        raise InvalidOperation(f"unknown operation {call.operation!r}; known: {known}")
    return op(event, settings)
