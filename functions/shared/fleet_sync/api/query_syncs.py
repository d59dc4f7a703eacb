"""The query API's sync routes: every sync's state machine and last run, its lock, its executions."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from botocore.exceptions import ClientError

from ..core import aws
from ..core.settings import Settings, get_settings
from ..run.registry import SYNCS
from ..run.start import state_machine_arn
from ..run.sync_state import SyncStateStore
from .common import ApiNotFound, ApiValidationError, responses
from .models import EXECUTION_NAME, SFN_CURSOR, ExecutionStatus, SyncName

router = Router()  # type: ignore[no-untyped-call]

OK = "the result"


def _settings() -> Settings:
    return get_settings()


def _arn_base() -> tuple[str, str, str]:
    """(partition, region, account) of the function's own ARN (no STS call); STS answers otherwise."""
    context = router.lambda_context
    parts = (getattr(context, "invoked_function_arn", "") or "").split(":")
    if len(parts) >= 5 and parts[1] and parts[3] and parts[4]:
        return parts[1], parts[3], parts[4]
    sts = aws.client("sts")
    return "aws", aws.client("stepfunctions").meta.region_name, sts.get_caller_identity()["Account"]


def _machine_arn(sync: str, settings: Settings) -> str:
    partition, region, account = _arn_base()
    return state_machine_arn(sync, settings, region=region, account_id=account, partition=partition)


def _execution_arn(sync: str, name: str, settings: Settings) -> str:
    return _machine_arn(sync, settings).replace(":stateMachine:", ":execution:") + f":{name}"


# ------------------------------------------------------------------ syncs


def _last_run(item: dict[str, Any] | None, *, with_summary: bool) -> dict[str, Any] | None:
    if item is None:
        return None
    return item if with_summary else {k: v for k, v in item.items() if k != "summary"}


@router.get(
    "/syncs",
    operation_id="listSyncs",
    tags=["syncs"],
    summary="Every sync: its state machine and its last finished run",
    responses=responses(200, OK),
)
def list_syncs() -> dict[str, Any]:
    settings = _settings()
    state = SyncStateStore.of(settings)
    return {
        "syncs": [
            {
                "sync": name,
                "stateMachineArn": _machine_arn(name, settings),
                "lastRun": _last_run(state.sync_status(name), with_summary=False),
            }
            for name in SYNCS
        ]
    }


@router.get(
    "/syncs/<sync>/status",
    operation_id="getSyncStatus",
    tags=["syncs"],
    summary="A sync's last finished run (with its summary) and the run holding its lock now, if any",
    responses=responses(200, OK, 400),
)
def get_status(sync: Annotated[SyncName, Path()]) -> dict[str, Any]:
    settings = _settings()
    state = SyncStateStore.of(settings)
    holder = state.lock(sync)
    if holder:
        try:
            holder["running"] = (
                aws.client("stepfunctions").describe_execution(executionArn=holder["executionArn"])["status"]
                == "RUNNING"
            )
        except Exception:  # the lock record alone still says who took it
            holder["running"] = None
    return {
        "sync": sync,
        "stateMachineArn": _machine_arn(sync, settings),
        "lastRun": _last_run(state.sync_status(sync), with_summary=True),
        "lock": holder,
    }


@router.get(
    "/syncs/<sync>/executions",
    operation_id="listSyncExecutions",
    tags=["syncs"],
    summary="A sync's executions, newest first (Step Functions ListExecutions)",
    responses=responses(200, OK, 400),
)
def list_executions(
    sync: Annotated[SyncName, Path()],
    status: Annotated[ExecutionStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    nextToken: Annotated[str | None, Query(pattern=SFN_CURSOR)] = None,
) -> dict[str, Any]:
    settings = _settings()
    kwargs: dict[str, Any] = {"stateMachineArn": _machine_arn(sync, settings), "maxResults": limit}
    if status:
        kwargs["statusFilter"] = status
    if nextToken:
        kwargs["nextToken"] = nextToken
    try:
        page = aws.client("stepfunctions").list_executions(**kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("InvalidToken", "ValidationException"):
            raise ApiValidationError("nextToken", "not a token of this listing") from None
        raise
    return {
        "sync": sync,
        "executions": [
            {k: e.get(k) for k in ("name", "executionArn", "status", "startDate", "stopDate") if e.get(k) is not None}
            for e in page.get("executions", [])
        ],
        "nextToken": page.get("nextToken"),
    }


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@router.get(
    "/syncs/<sync>/executions/<executionName>",
    operation_id="getSyncExecution",
    tags=["syncs"],
    summary="One execution of a sync: its status, input and summary",
    responses=responses(200, OK, 400, 404),
)
def get_execution(
    sync: Annotated[SyncName, Path()],
    executionName: Annotated[str, Path(pattern=EXECUTION_NAME, description="the execution's name")],
) -> dict[str, Any]:
    settings = _settings()
    arn = _execution_arn(sync, executionName, settings)
    try:
        desc = aws.client("stepfunctions").describe_execution(executionArn=arn)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            raise ApiNotFound(f"{sync} has no execution {executionName}") from None
        raise
    summary = _json(desc.get("output"))
    if summary is None:  # still running, or failed: the summary FinishRun stored, if it got that far
        summary = SyncStateStore.of(settings).summary(executionName)
    out = {
        "sync": sync,
        "name": desc.get("name") or executionName,
        "executionArn": arn,
        "status": desc["status"],
        "startDate": desc.get("startDate"),
        "stopDate": desc.get("stopDate"),
        "input": _json(desc.get("input")),
        "summary": summary,
    }
    for key in ("error", "cause"):
        if desc.get(key):
            out[key] = desc[key]
    return out
