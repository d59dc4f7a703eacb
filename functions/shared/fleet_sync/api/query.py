"""The query API (QueryApiFunction): read-only routes over our tables and the stack's state machines.

Nothing here writes: no table write, no StartExecution, no DRS or EC2 call (the inventory's DRS fallback
needs the fleet role, which may write; the data-management route `POST /inventory/refresh` does it).
`tests/api/test_separation.py` checks the imports and `tests/api/test_template_api.py` the policy.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from ..core import aws
from ..core.ids import REGION, SOURCE_SERVER_ID
from ..core.regions import drs_regions
from ..core.settings import Settings, get_settings
from ..run.region_status import ActiveRegions, active_regions_of, load_region_statuses
from ..syncs.inventory.pages import Cursor, InvalidPageToken, parse_token, read_page
from ..syncs.inventory.queries import failback_topology, freshness
from ..syncs.inventory.store import InventoryStore
from ..syncs.recovery_instances.queries import check_existing_recovery_instances
from ..syncs.recovery_instances.status import get_recovery_instance_sync_status as recovery_sync_status
from ..syncs.staging.queries import get_extension_audit, get_extension_failures
from . import query_syncs
from .common import ApiValidationError, known_regions, make_resolver, responses, split_list
from .models import (
    DEFAULT_PAGE,
    MAX_CHECK_IDS,
    MAX_PAGE,
    MAX_REGIONS,
    PAGE_CURSOR,
    PRINTABLE,
    REGION_LIST,
    SOURCE_SERVER_LIST,
    AccountId,
    RegionStatusName,
    ReplicationState,
    SourceServerId,
)

app = make_resolver()
app.include_router(query_syncs.router)

OK = "the result"

RegionList = Annotated[
    list[Annotated[str, Query(pattern=REGION_LIST, max_length=2000)]] | None,
    Query(description="regions, repeated or comma-separated; default: the active regions", max_length=MAX_REGIONS),
]


def _settings() -> Settings:
    return get_settings()


def _active(settings: Settings) -> ActiveRegions:
    return active_regions_of(settings)


# ------------------------------------------------------------------ regions


@app.get(
    "/regions",
    operation_id="getRegions",
    tags=["regions"],
    summary="Region status per account and region, the active regions and the decision",
    responses=responses(200, OK, 400),
)
def get_regions(
    accountId: Annotated[AccountId | None, Query(description="only this account's statuses")] = None,
    region: Annotated[str | None, Query(pattern=REGION, max_length=32)] = None,
    status: Annotated[RegionStatusName | None, Query(description="only pairs with this status")] = None,
) -> dict[str, Any]:
    settings = _settings()
    all_regions = drs_regions(settings.drs_regions)
    if region is not None:
        known_regions([region], all_regions, field="region")
    active = _active(settings)
    statuses = active.statuses
    if statuses is None and active.decision == "filtering_disabled":
        ddb = aws.dynamodb()
        statuses = load_region_statuses(
            ddb.Table(settings.region_status_table),
            state_table=ddb.Table(settings.sync_state_table),
            ttl_seconds=settings.region_cache_ttl_seconds,
        )
    rows = [
        asdict(s)
        for s in statuses or []
        if (accountId is None or s.accountId == accountId)
        and (region is None or s.region == region)
        and (status is None or s.status == status)
    ]
    rows.sort(key=lambda r: (r["accountId"], r["region"]))
    return {
        "decision": active.decision,
        "filtering": settings.region_filtering,
        "regions": all_regions,
        "activeRegions": active.regions,
        "regionsSkipped": len(all_regions) - len(active.regions),
        "statusTableReadable": active.decision != "fallback_error",
        "cacheTtlSeconds": settings.region_cache_ttl_seconds,
        "statuses": rows,
    }


# ------------------------------------------------------------------ inventory


def _inventory(
    regions: list[str] | None,
    accountId: str | None,
    sourceAccountId: str | None,
    stagingAccountId: str | None,
    replicationState: str | None,
    hostname: str | None,
    limit: int,
    nextToken: str | None,
) -> dict[str, Any]:
    settings = _settings()
    all_regions = drs_regions(settings.drs_regions)
    requested = known_regions(split_list(regions, "regions", REGION, limit=MAX_REGIONS), all_regions)
    filters = {
        "accountId": accountId,
        "sourceAccountId": sourceAccountId,
        "stagingAccountId": stagingAccountId,
        "replicationState": replicationState,
        "hostname": hostname,
    }
    filters = {k: v for k, v in filters.items() if v is not None}
    cursor = None
    if nextToken is not None:
        try:
            cursor = parse_token(nextToken, filters, requested)
        except InvalidPageToken as exc:
            raise ApiValidationError("nextToken", str(exc)) from None
        known_regions(cursor.regions, all_regions, field="nextToken")
    # validation is over: from here on, tables are read
    active = _active(settings)
    if cursor is None:
        cursor = Cursor(sorted(requested) if requested is not None else active.regions)
    if not cursor.regions:  # no active region: nothing to read
        page_servers, token, queries = [], None, 0
    else:
        try:
            page = read_page(
                aws.dynamodb().Table(settings.inventory_table),
                filters,
                limit=limit,
                cursor=cursor,
                requested_regions=requested,
            )
        except InvalidPageToken as exc:
            raise ApiValidationError("nextToken", str(exc)) from None
        page_servers, token, queries = page.servers, page.next_token, page.queries
    accounts = [accountId] if accountId else None
    return {
        "servers": page_servers,
        "count": len(page_servers),
        "nextToken": token,
        "regions": cursor.regions,
        "regionDecision": "requested" if requested is not None else active.decision,
        "source": "inventory",
        "drsFallback": False,
        "freshness": freshness(active.statuses or [], cursor.regions, settings.inventory_fresh_minutes, accounts),
        "queries": queries,
    }


AccountFilter = Annotated[AccountId | None, Query(description="the DRS account the servers replicate into")]
SourceAccountFilter = Annotated[AccountId | None, Query(description="the account the source machines run in")]
StagingAccountFilter = Annotated[AccountId | None, Query(description="the staging account of extended servers")]
StateFilter = Annotated[ReplicationState | None, Query()]
HostnameFilter = Annotated[
    str | None, Query(min_length=1, max_length=255, pattern=PRINTABLE, description="substring of the hostname")
]
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="servers per page")]
PageToken = Annotated[str | None, Query(pattern=PAGE_CURSOR, description="nextToken of the previous page")]


@app.get(
    "/drs/source-server-inventory",
    operation_id="getSourceServerInventory",
    tags=["aliases"],
    summary="Alias of GET /inventory (the specification's route)",
    responses=responses(200, OK, 400),
)
@app.get(
    "/inventory",
    operation_id="getInventory",
    tags=["inventory"],
    summary="Source servers from the inventory, filtered and paged, with how fresh the data is",
    responses=responses(200, OK, 400),
)
def get_inventory(
    regions: RegionList = None,
    accountId: AccountFilter = None,
    sourceAccountId: SourceAccountFilter = None,
    stagingAccountId: StagingAccountFilter = None,
    replicationState: StateFilter = None,
    hostname: HostnameFilter = None,
    limit: PageLimit = DEFAULT_PAGE,
    nextToken: PageToken = None,
) -> dict[str, Any]:
    filters = (accountId, sourceAccountId, stagingAccountId, replicationState, hostname)
    return _inventory(regions, *filters, limit, nextToken)


@app.get(
    "/inventory/<sourceServerID>/failback-topology",
    operation_id="getFailbackTopology",
    tags=["inventory"],
    summary="The original region, account and replication template to reinstall the DRS agent against",
    responses=responses(200, OK, 400, 404),
)
def get_failback(sourceServerID: Annotated[SourceServerId, Path()]) -> dict[str, Any]:
    settings = _settings()
    return failback_topology(InventoryStore(aws.dynamodb().Table(settings.inventory_table)), sourceServerID)


# ------------------------------------------------------------------ recovery instances


@app.get(
    "/recovery-instances",
    operation_id="checkRecoveryInstances",
    tags=["recovery-instances"],
    summary="Which source servers have a recovery instance, from the cache alone (unknown when it cannot tell)",
    responses=responses(200, OK, 400),
)
def get_recovery_instances(
    sourceServerIDs: Annotated[
        list[Annotated[str, Query(pattern=SOURCE_SERVER_LIST, max_length=4400)]],
        Query(description=f"source server ids, repeated or comma-separated (at most {MAX_CHECK_IDS})"),
    ],
) -> dict[str, Any]:
    ids = split_list(sourceServerIDs, "sourceServerIDs", SOURCE_SERVER_ID, limit=MAX_CHECK_IDS) or []
    return check_existing_recovery_instances(ids, settings=_settings())


@app.get(
    "/drs/recovery-instance-sync/status",
    operation_id="getRecoveryInstanceSyncStatus",
    tags=["aliases"],
    summary="Status of the last full recovery-instance sync (the specification's route)",
    responses=responses(200, OK),
)
def get_recovery_instance_sync_status() -> dict[str, Any]:
    return recovery_sync_status(_settings())


# ------------------------------------------------------------------ staging extensions (read side)


@app.get(
    "/staging/failures",
    operation_id="getStagingFailures",
    tags=["staging"],
    summary="Remembered staging-extension failures, each with its backoff (deferred, nextAttemptAt)",
    responses=responses(200, OK, 400),
)
def get_staging_failures(
    targetAccountId: Annotated[AccountId | None, Query()] = None,
    regions: RegionList = None,
) -> dict[str, Any]:
    settings = _settings()
    chosen = known_regions(split_list(regions, "regions", REGION, limit=MAX_REGIONS), drs_regions(settings.drs_regions))
    if chosen is not None and targetAccountId is None:
        raise ApiValidationError("regions", "regions narrows one target: give targetAccountId too")
    table = aws.dynamodb().Table(settings.staging_extensions_table)
    failures = get_extension_failures(table, target_account_id=targetAccountId, regions=chosen)
    return {"failures": failures, "count": len(failures)}


@app.get(
    "/staging/audit",
    operation_id="getStagingAudit",
    tags=["staging"],
    summary="The newest staging extensions into one target account",
    responses=responses(200, OK, 400),
)
def get_staging_audit(
    targetAccountId: Annotated[AccountId, Query()],
    regions: RegionList = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> dict[str, Any]:
    settings = _settings()
    all_regions = drs_regions(settings.drs_regions)
    chosen = known_regions(split_list(regions, "regions", REGION, limit=MAX_REGIONS), all_regions) or all_regions
    table = aws.dynamodb().Table(settings.staging_extensions_table)
    extensions = get_extension_audit(table, targetAccountId, chosen, limit=limit)
    return {"extensions": extensions, "count": len(extensions)}


__all__ = ["app"]
