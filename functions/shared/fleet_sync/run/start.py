"""Starting a sync: StartExecution of its state machine (the input is validated by the machine's first state)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..core import aws
from ..core.settings import Settings
from .registry import state_machine_name


def state_machine_arn(sync: str, settings: Settings, *, region: str, account_id: str, partition: str = "aws") -> str:
    name = state_machine_name(settings.stack_name, sync)
    return f"arn:{partition}:states:{region}:{account_id}:stateMachine:{name}"


def start_sync(
    sync: str, sync_input: dict[str, Any] | None, settings: Settings, *, name: str | None = None
) -> dict[str, Any]:
    """Start a sync's state machine: `{sync, executionArn, startDate}`."""
    sts = aws.client("sts")
    sfn = aws.client("stepfunctions")
    arn = state_machine_arn(
        sync, settings, region=sfn.meta.region_name, account_id=sts.get_caller_identity()["Account"]
    )
    started = sfn.start_execution(
        stateMachineArn=arn, input=json.dumps(sync_input or {}), name=name or f"{sync}-{uuid.uuid4()}"
    )
    return {"sync": sync, "executionArn": started["executionArn"], "startDate": started["startDate"].isoformat()}
