"""The query API (QueryApiFunction): read-only routes over our tables and the stack's state machines.

Nothing here writes: no table write, no StartExecution, no DRS or EC2 call (the inventory's DRS fallback
needs the fleet role, which may write; the data-management route `POST /inventory/refresh` does it).
`tests/api/test_separation.py` checks the imports and `tests/api/test_template_api.py` the policy.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from . import aws
from .api_common import ApiNotFound, ApiValidationError, known_regions, make_resolver, responses, split_list
from .api_models import (
    DEFAULT_PAGE,
    EXECUTION_NAME,
    MAX_CHECK_IDS,
    MAX_PAGE,
    MAX_REGIONS,
    PAGE_CURSOR,
    PRINTABLE,
    REGION,
    REGION_LIST,
    SFN_CURSOR,
    SOURCE_SERVER_LIST,
    AccountId,
    ExecutionStatus,
    RegionStatusName,
    ReplicationState,
    SourceServerId,
    SyncName,
)
from .inventory import InventoryStore, failback_topology, stale_pairs
from .inventory_pages import Cursor, InvalidPageToken, parse_token, read_page
from .recovery_models import SOURCE_SERVER_ID
from .recovery_queries import check_existing_recovery_instances
from .regions import drs_regions, load_region_statuses, resolve_active_regions
from .runs import get_summary, get_sync_status, lock_key
from .settings import Settings, get_settings
from .staging_store import get_extension_audit, get_extension_failures
from .syncs import SYNCS, sync_spec
from .tables import to_plain

app = make_resolver()

OK = "the result"

RegionList = Annotated[
    list[Annotated[str, Query(pattern=REGION_LIST, max_length=2000)]] | None,
    Query(description="regions, repeated or comma-separated; default: the active regions", max_length=MAX_REGIONS),
]


def _settings() -> Settings:
    return get_settings()


def _arn_base() -> tuple[str, str, str]:
    """(partition, region, account) of the function's own ARN (no STS call); STS answers otherwise."""
    context = app.lambda_context
    parts = (getattr(context, "invoked_function_arn", "") or "").split(":")
    if len(parts) >= 5 and parts[1] and parts[3] and parts[4]:
        return parts[1], parts[3], parts[4]
    sts = aws.client("sts")
    return "aws", aws.client("stepfunctions").meta.region_name, sts.get_caller_identity()["Account"]


def _machine_arn(sync: str, settings: Settings) -> str:
    partition, region, account = _arn_base()
    name = f"{settings.stack_name}-{sync_spec(sync).machine_suffix}"
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{name}"


def _execution_arn(sync: str, name: str, settings: Settings) -> str:
    return _machine_arn(sync, settings).replace(":stateMachine:", ":execution:") + f":{name}"


def _active(settings: Settings):
    ddb = aws.dynamodb()
    return resolve_active_regions(
        ddb.Table(settings.region_status_table),
        all_regions=drs_regions(settings.drs_regions),
        state_table=ddb.Table(settings.sync_state_table),
        cache_ttl=settings.region_cache_ttl_seconds,
        filtering=settings.region_filtering,
    )


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
        page = read_page(
            aws.dynamodb().Table(settings.inventory_table),
            filters,
            limit=limit,
            cursor=cursor,
            requested_regions=requested,
        )
        page_servers, token, queries = page.servers, page.next_token, page.queries
    statuses = active.statuses or []
    accounts = [accountId] if accountId else None
    stale = stale_pairs(statuses, cursor.regions, settings.inventory_fresh_minutes, accounts=accounts)
    by_pair = {(s.accountId, s.region): s for s in statuses}
    in_scope = [
        s
        for s in statuses
        if s.region in set(cursor.regions) and s.active and (accounts is None or s.accountId in accounts)
    ]
    successes = sorted(s.lastSuccess for s in in_scope if s.lastSuccess)
    return {
        "servers": page_servers,
        "count": len(page_servers),
        "nextToken": token,
        "regions": cursor.regions,
        "regionDecision": "requested" if requested is not None else active.decision,
        "source": "inventory",
        "drsFallback": False,
        "freshness": {
            "fresh": bool(in_scope) and not stale,
            "freshMinutes": settings.inventory_fresh_minutes,
            "oldestSuccess": successes[0] if successes else None,
            "newestSuccess": successes[-1] if successes else None,
            "pairsWithServers": len(in_scope),
            "stalePairs": [
                {
                    "accountId": a,
                    "region": r,
                    "lastSuccess": by_pair[(a, r)].lastSuccess,
                    "status": by_pair[(a, r)].status,
                }
                for a, r in stale
            ],
        },
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
    "/inventory/<sourceServerId>/failback-topology",
    operation_id="getFailbackTopology",
    tags=["inventory"],
    summary="The original region, account and replication template to reinstall the DRS agent against",
    responses=responses(200, OK, 400, 404),
)
def get_failback(sourceServerId: Annotated[SourceServerId, Path()]) -> dict[str, Any]:
    settings = _settings()
    return failback_topology(InventoryStore(aws.dynamodb().Table(settings.inventory_table)), sourceServerId)


# ------------------------------------------------------------------ recovery instances


@app.get(
    "/recovery-instances",
    operation_id="checkRecoveryInstances",
    tags=["recovery-instances"],
    summary="Which source servers have a recovery instance, from the cache alone (unknown when it cannot tell)",
    responses=responses(200, OK, 400),
)
def get_recovery_instances(
    sourceServerIds: Annotated[
        list[Annotated[str, Query(pattern=SOURCE_SERVER_LIST, max_length=4400)]],
        Query(description=f"source server ids, repeated or comma-separated (at most {MAX_CHECK_IDS})"),
    ],
) -> dict[str, Any]:
    ids = split_list(sourceServerIds, "sourceServerIds", SOURCE_SERVER_ID, limit=MAX_CHECK_IDS) or []
    return check_existing_recovery_instances(ids, settings=_settings())


@app.get(
    "/drs/recovery-instance-sync/status",
    operation_id="getRecoveryInstanceSyncStatus",
    tags=["aliases"],
    summary="Status of the last full recovery-instance sync (the specification's route)",
    responses=responses(200, OK),
)
def get_recovery_instance_sync_status() -> dict[str, Any]:
    from .recovery_instances import get_recovery_instance_sync_status as status

    return status(_settings())


# ------------------------------------------------------------------ syncs


def _last_run(item: dict[str, Any] | None, *, with_summary: bool) -> dict[str, Any] | None:
    if item is None:
        return None
    return item if with_summary else {k: v for k, v in item.items() if k != "summary"}


@app.get(
    "/syncs",
    operation_id="listSyncs",
    tags=["syncs"],
    summary="Every sync: its state machine and its last finished run",
    responses=responses(200, OK),
)
def list_syncs() -> dict[str, Any]:
    settings = _settings()
    state = aws.dynamodb().Table(settings.sync_state_table)
    return {
        "syncs": [
            {
                "sync": name,
                "stateMachineArn": _machine_arn(name, settings),
                "lastRun": _last_run(get_sync_status(state, name), with_summary=False),
            }
            for name in SYNCS
        ]
    }


@app.get(
    "/syncs/<sync>/status",
    operation_id="getSyncStatus",
    tags=["syncs"],
    summary="A sync's last finished run (with its summary) and the run holding its lock now, if any",
    responses=responses(200, OK, 400),
)
def get_status(sync: Annotated[SyncName, Path()]) -> dict[str, Any]:
    settings = _settings()
    state = aws.dynamodb().Table(settings.sync_state_table)
    lock = state.get_item(Key=lock_key(sync)).get("Item")
    holder = None
    if lock:
        holder = {k: v for k, v in to_plain(lock).items() if k not in ("pk", "sk")}
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
        "lastRun": _last_run(get_sync_status(state, sync), with_summary=True),
        "lock": holder,
    }


@app.get(
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
    from botocore.exceptions import ClientError

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
    import json

    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@app.get(
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
    from botocore.exceptions import ClientError

    try:
        desc = aws.client("stepfunctions").describe_execution(executionArn=arn)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            raise ApiNotFound(f"{sync} has no execution {executionName}") from None
        raise
    summary = _json(desc.get("output"))
    if summary is None:  # still running, or failed: the summary FinishRun stored, if it got that far
        summary = get_summary(aws.dynamodb().Table(settings.sync_state_table), executionName)
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
