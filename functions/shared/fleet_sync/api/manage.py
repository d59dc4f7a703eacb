"""The manage API (ManageApiFunction): every route that writes or starts work.

Starting syncs (202 and the execution), refreshing stale inventory pairs from DRS, terminating recovery
instances, and the accounts table (targets and their staging accounts). Each body is a pydantic model;
checks that need the stack's settings (its regions, the role name it may assume) run before any table or
AWS call.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import Field, StrictBool, ValidationError

from ..core.regions import drs_regions
from ..core.settings import Settings, get_settings
from ..run.region_status import active_regions_of
from ..run.registry import sync_spec
from ..run.start import start_sync
from ..syncs.inventory.refresh import query_inventory
from ..syncs.recovery_instances.terminate import terminate_recovery_instances
from . import accounts_admin, preflight
from .common import ApiValidationError, error_response, json_response, known_regions, make_resolver, responses
from .manage_accounts import TargetId, accounts_store, router
from .models import (
    MAX_REGIONS,
    InventoryRefreshRequest,
    Region,
    Strict,
    SyncName,
    SyncStartRequest,
    TerminateRequest,
)

app = make_resolver()
app.include_router(router)  # the accounts routes (fleet_sync.api.manage_accounts)


STARTED = "the execution started: its ARN and where to follow it"


class StagingTargetSyncRequest(Strict):
    """Options of a one-target staging sync."""

    dryRun: StrictBool | None = None
    regions: list[Region] | None = Field(default=None, min_length=1, max_length=MAX_REGIONS)


# ------------------------------------------------------------------ helpers


def _settings() -> Settings:
    return get_settings()


def _check_regions(regions: list[str] | None, settings: Settings, field: str = "regions") -> None:
    known_regions(regions, drs_regions(settings.drs_regions), field=field, location="body")


def _started(sync: str, sync_input: dict[str, Any], settings: Settings) -> Response[dict[str, Any]]:
    """Validate the input with the sync's own model, then StartExecution: 202, the ARN and where to look."""
    spec = sync_spec(sync)
    try:
        spec.input_model.model_validate(sync_input)
    except ValidationError as exc:
        raise ApiValidationError.from_pydantic(exc) from None
    _check_regions(sync_input.get("regions"), settings)
    if sync_input.get("region") is not None:
        _check_regions([sync_input["region"]], settings, field="region")
    preflight.check_can_start(sync, sync_input, settings)
    started = start_sync(sync, sync_input, settings)
    name = started["executionArn"].rsplit(":", 1)[-1]
    location = f"/syncs/{sync}/executions/{name}"
    body = {**started, "executionName": name, "input": sync_input, "links": {"execution": location}}
    return json_response(202, body, headers={"Location": location})


def _body(model: Strict | None) -> dict[str, Any]:
    return model.model_dump(exclude_none=True) if model is not None else {}


# ------------------------------------------------------------------ syncs


@app.post(
    "/syncs/<sync>",
    operation_id="startSync",
    tags=["syncs"],
    summary="Start a sync's state machine, optionally scoped (docs/design.md: the execution input)",
    status_code=202,
    responses=responses(202, STARTED, 400, 409),
)
def post_sync(
    sync: Annotated[SyncName, Path()],
    scope: Annotated[SyncStartRequest | None, Body(description="the execution input; {} or none: a full run")] = None,
) -> Response[dict[str, Any]]:
    return _started(sync, _body(scope), _settings())


@app.post(
    "/drs/recovery-instance-sync",
    operation_id="startRecoveryInstanceSync",
    tags=["aliases"],
    summary="Alias of POST /syncs/recovery-instances (the specification's route)",
    status_code=202,
    responses=responses(202, STARTED, 400, 409),
)
def post_recovery_instance_sync(
    scope: Annotated[SyncStartRequest | None, Body(description="the execution input")] = None,
) -> Response[dict[str, Any]]:
    return _started("recovery-instances", _body(scope), _settings())


@app.post(
    "/drs/tag-sync",
    operation_id="startTagSync",
    tags=["aliases"],
    summary="Alias of POST /syncs/tags (the specification's route)",
    status_code=202,
    responses=responses(202, STARTED, 400),
)
def post_tag_sync(
    scope: Annotated[SyncStartRequest | None, Body(description="the execution input")] = None,
) -> Response[dict[str, Any]]:
    return _started("tags", _body(scope), _settings())


# ------------------------------------------------------------------ inventory refresh (the DRS fallback)


@app.post(
    "/inventory/refresh",
    operation_id="refreshInventory",
    tags=["inventory"],
    summary="Read the stale (account, region) pairs from DRS now and write them back (topology preserved)",
    responses=responses(200, "which pairs were read from DRS", 400),
)
def post_inventory_refresh(
    request: Annotated[InventoryRefreshRequest | None, Body()] = None,
) -> dict[str, Any]:
    settings = _settings()
    body = _body(request)
    _check_regions(body.get("regions"), settings)
    regions = body.get("regions")
    if regions is None:
        regions = active_regions_of(settings).regions
    filters = {"accountId": body["accountId"]} if body.get("accountId") else None
    result = query_inventory(regions, filters, settings=settings, fallback=True, write_back=True)
    return {
        "source": result.source,
        "regions": sorted(regions),
        "stalePairs": [{"accountId": a, "region": r} for a, r in result.stale_pairs],
        "refreshedPairs": [{"accountId": a, "region": r} for a, r in result.refreshed_pairs],
        "failedPairs": result.failed_pairs,
        "serverCount": len(result.servers),
        "oldestSuccess": result.oldest_success,
    }


# ------------------------------------------------------------------ recovery instances


@app.post(
    "/recovery-instances/terminate",
    operation_id="terminateRecoveryInstances",
    tags=["recovery-instances"],
    summary="Terminate recovery instances (by execution, ids or source servers); rows go when DRS's job did",
    responses=responses(200, "what was terminated, is terminating, already gone, in conflict or failed", 400),
)
def post_terminate(request: Annotated[TerminateRequest, Body()]) -> dict[str, Any]:
    settings = _settings()
    pairs = None
    if request.pairs is not None:
        _check_regions(sorted({p.region for p in request.pairs}), settings, field="pairs")
        pairs = [(p.accountId, p.region) for p in request.pairs]
    return terminate_recovery_instances(
        source_execution_id=request.sourceExecutionId,
        recovery_instance_ids=request.recoveryInstanceIDs,
        source_server_ids=request.sourceServerIDs,
        pairs=pairs,
        include_recoveries=request.includeRecoveries,
        settings=settings,
    )


# ------------------------------------------------------------------ accounts: the staging sync of one target


@app.post(
    "/accounts/targets/<accountId>/staging-accounts/sync",
    operation_id="syncTargetStagingAccounts",
    tags=["accounts", "aliases"],
    summary="Start the staging sync for this one target (input {targetAccounts: [accountId]})",
    status_code=202,
    responses=responses(202, STARTED, 400, 404, 409),
)
def post_target_staging_sync(
    accountId: TargetId,
    options: Annotated[StagingTargetSyncRequest | None, Body()] = None,
) -> Response[dict[str, Any]]:
    settings = _settings()
    body = _body(options)
    _check_regions(body.get("regions"), settings)
    target = accounts_admin.get_target(accounts_store(settings), accountId)
    if not target.stagingAccounts:
        return error_response(409, "Conflict", f"target {accountId} has no staging accounts to extend from")
    return _started("staging", {"targetAccounts": [accountId], **body}, settings)
