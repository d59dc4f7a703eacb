"""Cache-backed queries and terminate for recovery instances (the API issue exposes them).

`check_existing_recovery_instances(ids)` answers the recovery-plans page from the cache alone: one
BatchGetItem per 100 servers. A row older than the freshness window, or a server with no row while the last
full sync is old or incomplete, is reported as `unknown`, never as "no instance".

`terminate_recovery_instances(...)` finds the rows through an index (or by key), groups them by
(account, region), assumes each account's role once, checks which instances DRS still has (DescribeRecoveryInstances,
200 ids per call), terminates those (TerminateRecoveryInstances, 200 ids per call) and deletes cache rows only
after DRS accepted their termination. Running it twice is harmless.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from . import aws
from .accounts import AccountRecord, account_session, get_account
from .errors import InvalidSyncInput
from .observability import logger
from .recovery_instances import (
    ACCOUNT_REGION_INDEX,
    FRESH_MINUTES,
    SYNC,
    CacheStore,
    account_region,
    chunks,
)
from .regions import iso, parse_iso, utc_now
from .runs import get_sync_status
from .settings import Settings, get_settings
from .tables import query_all, to_plain

BATCH_GET_KEYS = 100  # BatchGetItem maximum keys per request
BATCH_GET_ATTEMPTS = 8  # first call plus retries of UnprocessedKeys
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_MAX_SECONDS = 2.0
TERMINATE_BATCH = 200  # TerminateRecoveryInstances recoveryInstanceIDs maximum
STATUS_CACHE_SECONDS = 30  # the last-sync status record is shared by the calls of one container this long

# Fields of a cache row the page shows (the predecessor's response, camelCase).
INSTANCE_FIELDS = (
    "sourceServerId",
    "recoveryInstanceId",
    "ec2InstanceId",
    "ec2InstanceState",
    "sourceServerName",
    "name",
    "privateIp",
    "publicIp",
    "instanceType",
    "launchTime",
    "region",
    "accountId",
    "sourceExecutionId",
    "sourcePlanName",
    "jobId",
    "isDrill",
    "replicationStagingAccountId",
    "lastSyncTime",
)


class InvalidRecoveryInstanceRequest(InvalidSyncInput):
    """A cache query or terminate request names nothing, or names it badly."""


# ------------------------------------------------------------------ batch get


def batch_get_rows(
    ddb: Any, table_name: str, source_server_ids: list[str], *, sleep=time.sleep
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Rows by `sourceServerId`, 100 keys per BatchGetItem; UnprocessedKeys retried with backoff and jitter.

    Returns (rows by id, ids still unprocessed after every retry).
    """
    rows: dict[str, dict[str, Any]] = {}
    unprocessed: list[str] = []
    for batch in chunks(sorted(set(source_server_ids)), BATCH_GET_KEYS):
        request: dict[str, Any] = {table_name: {"Keys": [{"sourceServerId": sid} for sid in batch]}}
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = ddb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table_name, []):
                rows[item["sourceServerId"]] = to_plain(item)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            if attempt + 1 < BATCH_GET_ATTEMPTS:
                sleep(random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
        if request:
            unprocessed.extend(k["sourceServerId"] for k in request.get(table_name, {}).get("Keys", []))
    return rows, unprocessed


# ------------------------------------------------------------------ last full sync, cached per container

_status_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
_status_lock = threading.Lock()


def last_full_sync(state_table: Any, *, ttl_seconds: float = STATUS_CACHE_SECONDS, clock=time.monotonic) -> Any:
    """The sync's status item (the last finished full run), one GetItem per container per `ttl_seconds`."""
    with _status_lock:
        hit = _status_cache.get(state_table.name)
        if hit and clock() - hit[0] < ttl_seconds:
            return hit[1]
    item = get_sync_status(state_table, SYNC)
    with _status_lock:
        _status_cache[state_table.name] = (clock(), item)
    return item


def clear_status_cache() -> None:
    with _status_lock:
        _status_cache.clear()


def _missing_row_reason(status: dict[str, Any] | None, now: datetime, fresh_minutes: int) -> str | None:
    """Why a server without a row may still have an instance; None when "no instance" is certain enough."""
    if not status:
        return "no_sync_yet"
    finished = parse_iso(status.get("finishedAt"))
    if finished is None or finished < now - timedelta(minutes=fresh_minutes):
        return "last_sync_stale"
    if status.get("outcome") != "complete":
        return "last_sync_incomplete"
    return None


# ------------------------------------------------------------------ check existing


def check_existing_recovery_instances(
    source_server_ids: Iterable[str],
    *,
    settings: Settings | None = None,
    ddb: Any = None,
    now: datetime | None = None,
    fresh_minutes: int = FRESH_MINUTES,
) -> dict[str, Any]:
    """Which of these source servers have a recovery instance, from the cache alone.

    Response (the spec's shape plus what is not known):
    `{hasExistingInstances, existingInstances: [...], instanceCount, unknown: [ids], unknownReasons: {id: reason},
    staleInstances: [...], checkedAt}`. Reasons: `stale` (the row's pair was not synced within the freshness
    window), `no_sync_yet`, `last_sync_stale`, `last_sync_incomplete` (no row, and the last full sync cannot
    vouch for that), `unprocessed` (DynamoDB kept returning the key unprocessed).
    """
    if isinstance(source_server_ids, str):
        raise InvalidRecoveryInstanceRequest("source_server_ids must be a list of ids, not one string")
    ids = list(dict.fromkeys(source_server_ids))
    if any(not isinstance(i, str) or not i for i in ids):
        raise InvalidRecoveryInstanceRequest("source server ids must be non-empty strings")
    settings = settings or get_settings()
    ddb = ddb or aws.dynamodb()
    now = now or utc_now()
    rows, unprocessed = batch_get_rows(ddb, settings.recovery_instances_table, ids) if ids else ({}, [])
    oldest = now - timedelta(minutes=fresh_minutes)
    existing: list[dict[str, Any]] = []
    stale: list[dict[str, Any]] = []
    reasons: dict[str, str] = {}
    status_needed = [sid for sid in ids if sid not in rows and sid not in unprocessed]
    status = last_full_sync(ddb.Table(settings.sync_state_table)) if status_needed else None
    missing_reason = _missing_row_reason(status, now, fresh_minutes) if status_needed else None
    for sid in ids:
        row = rows.get(sid)
        if row is not None:
            synced = parse_iso(row.get("lastSyncTime"))
            view = {k: row.get(k) for k in INSTANCE_FIELDS}
            if synced is not None and synced >= oldest:
                existing.append(view)
            else:
                stale.append(view)
                reasons[sid] = "stale"
        elif sid in unprocessed:
            reasons[sid] = "unprocessed"
        elif missing_reason:
            reasons[sid] = missing_reason
    unknown = [sid for sid in ids if sid in reasons]
    logger.info(
        "recovery-instance cache lookup",
        extra={
            "servers": len(ids),
            "existing": len(existing),
            "cacheMisses": len(unknown),
            "cacheMissRate": round(len(unknown) / len(ids), 4) if ids else 0.0,
        },
    )
    return {
        "hasExistingInstances": bool(existing),
        "existingInstances": existing,
        "instanceCount": len(existing),
        "unknown": unknown,
        "unknownReasons": reasons,
        "staleInstances": stale,
        "checkedAt": iso(now),
    }


# ------------------------------------------------------------------ terminate


def _rows_for_instance_ids(
    store: CacheStore, state_table: Any, recovery_instance_ids: list[str], pairs: list[tuple[str, str]] | None
) -> list[dict[str, Any]]:
    """Rows of these recovery instances. The table has no index on recoveryInstanceId, so the pairs the
    last full sync scanned (or the caller's pairs) are each read through ByAccountRegion: one Query per pair."""
    if pairs is None:
        status = get_sync_status(state_table, SYNC) or {}
        pairs = sorted({(w["accountId"], w["region"]) for w in (status.get("summary") or {}).get("workItems", [])})
    wanted = set(recovery_instance_ids)
    out: list[dict[str, Any]] = []
    for account_id, region in pairs:
        # filtered here: a FilterExpression reads the same rows and IN takes at most 100 values
        rows = query_all(
            store.table,
            IndexName=ACCOUNT_REGION_INDEX,
            KeyConditionExpression=Key("accountRegion").eq(account_region(account_id, region)),
        )
        out.extend(r for r in rows if r.get("recoveryInstanceId") in wanted)
    return out


def _find_rows(
    *,
    store: CacheStore,
    ddb: Any,
    settings: Settings,
    source_execution_id: str | None,
    recovery_instance_ids: list[str] | None,
    source_server_ids: list[str] | None,
    pairs: list[tuple[str, str]] | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows, source server ids DynamoDB left unprocessed)."""
    if source_execution_id:
        return store.rows_of_execution(source_execution_id), []
    if source_server_ids:
        rows, unprocessed = batch_get_rows(ddb, settings.recovery_instances_table, source_server_ids)
        return list(rows.values()), unprocessed
    assert recovery_instance_ids is not None
    state_table = ddb.Table(settings.sync_state_table)
    rows = _rows_for_instance_ids(store, state_table, recovery_instance_ids, pairs)
    return [r for r in rows if r.get("recoveryInstanceId") in set(recovery_instance_ids)], []


def terminate_recovery_instances(
    source_execution_id: str | None = None,
    recovery_instance_ids: Iterable[str] | None = None,
    *,
    source_server_ids: Iterable[str] | None = None,
    pairs: list[tuple[str, str]] | None = None,
    settings: Settings | None = None,
    ddb: Any = None,
) -> dict[str, Any]:
    """Terminate the recovery instances of one execution (or the named ones) and drop their cache rows.

    Exactly one selector: `source_execution_id` (index BySourceExecutionId), `recovery_instance_ids`
    (optionally narrowed by `pairs` of (accountId, region)), or `source_server_ids` (by key). Result:
    `{terminated, alreadyTerminated, conflicts, failed, notInCache, jobs, apiCalls}`; instances in `conflicts`
    or `failed` keep their cache rows. Running it twice is harmless: rows of terminated instances are gone, and
    instances DRS no longer has are reported as already terminated and their rows removed.
    """
    if isinstance(recovery_instance_ids, str) or isinstance(source_server_ids, str):
        raise InvalidRecoveryInstanceRequest("ids must be given as a list, not one string")
    instance_ids = sorted(set(recovery_instance_ids)) if recovery_instance_ids is not None else None
    server_ids = sorted(set(source_server_ids)) if source_server_ids is not None else None
    selectors = [x for x in (source_execution_id, instance_ids, server_ids) if x]
    if len(selectors) != 1:
        raise InvalidRecoveryInstanceRequest(
            "give exactly one of source_execution_id, recovery_instance_ids or source_server_ids (non-empty)"
        )
    settings = settings or get_settings()
    ddb = ddb or aws.dynamodb()
    store = CacheStore(ddb.Table(settings.recovery_instances_table))
    rows, unprocessed = _find_rows(
        store=store,
        ddb=ddb,
        settings=settings,
        source_execution_id=source_execution_id,
        recovery_instance_ids=instance_ids,
        source_server_ids=server_ids,
        pairs=pairs,
    )
    if instance_ids is not None:
        not_in_cache = sorted(set(instance_ids) - {r["recoveryInstanceId"] for r in rows})
    else:
        not_in_cache = sorted(set(server_ids or []) - {r["sourceServerId"] for r in rows} - set(unprocessed))
    report: dict[str, Any] = {
        "terminated": [],
        "alreadyTerminated": [],
        "conflicts": [],
        "failed": [
            {"sourceServerId": sid, "code": "UnprocessedKeys", "message": "cache row could not be read"}
            for sid in unprocessed
        ],
        "notInCache": not_in_cache,
        "jobs": [],
    }
    counter = aws.ApiCallCounter()
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["accountId"], row["region"])].append(row)
    accounts_table = ddb.Table(settings.accounts_table)
    sessions: dict[str, Any] = {}
    for (account_id, region), group in sorted(groups.items()):
        _terminate_group(
            account_id,
            region,
            group,
            store=store,
            report=report,
            counter=counter,
            sessions=sessions,
            accounts_table=accounts_table,
            settings=settings,
        )
    for key in ("terminated", "alreadyTerminated", "conflicts"):
        report[key] = sorted(report[key], key=lambda e: e["recoveryInstanceId"])
    report["apiCalls"] = counter.as_dict()
    report["summary"] = {
        k: len(report[k]) for k in ("terminated", "alreadyTerminated", "conflicts", "failed", "notInCache")
    }
    logger.info("recovery instances terminated", extra=report["summary"])
    return report


def _entry(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "recoveryInstanceId": row["recoveryInstanceId"],
        "sourceServerId": row["sourceServerId"],
        "accountId": row["accountId"],
        "region": row["region"],
        **extra,
    }


def _terminate_group(
    account_id: str,
    region: str,
    group: list[dict[str, Any]],
    *,
    store: CacheStore,
    report: dict[str, Any],
    counter: aws.ApiCallCounter,
    sessions: dict[str, Any],
    accounts_table: Any,
    settings: Settings,
) -> None:
    by_id = {r["recoveryInstanceId"]: r for r in group}
    try:
        if account_id not in sessions:
            record = get_account(accounts_table, account_id) or AccountRecord(accountId=account_id)
            sessions[account_id] = account_session(
                record, default_role_name=settings.cross_account_role_name, sync="terminate", counter=counter
            )
        drs = aws.client("drs", session=sessions[account_id], region=region, counter=counter)
        alive = {
            ri["recoveryInstanceID"]
            for batch in chunks(sorted(by_id), TERMINATE_BATCH)
            for ri in _describe_by_ids(drs, batch)
        }
    except (ClientError, BotoCoreError) as exc:
        for row in group:
            report["failed"].append(_entry(row, code=aws.error_code(exc), message=aws.error_message(exc)))
        logger.warning("terminate: pair unreachable", extra={"accountId": account_id, "region": region})
        return
    gone = [by_id[i] for i in sorted(by_id) if i not in alive]
    report["alreadyTerminated"].extend(_entry(r) for r in gone)
    store.delete_rows(r["sourceServerId"] for r in gone)
    for batch in chunks(sorted(alive), TERMINATE_BATCH):
        try:
            job = drs.terminate_recovery_instances(recoveryInstanceIDs=batch)["job"]
        except ClientError as exc:
            code = aws.error_code(exc)
            target = "conflicts" if code == "ConflictException" else "failed"
            for i in batch:
                report[target].append(_entry(by_id[i], code=code, message=aws.error_message(exc)))
            continue
        report["jobs"].append({"jobId": job.get("jobID"), "accountId": account_id, "region": region})
        report["terminated"].extend(_entry(by_id[i], jobId=job.get("jobID")) for i in batch)
        store.delete_rows(by_id[i]["sourceServerId"] for i in batch)  # only after DRS accepted the termination


def _describe_by_ids(drs: Any, ids: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in drs.get_paginator("describe_recovery_instances").paginate(filters={"recoveryInstanceIDs": ids}):
        found.extend(page.get("items", []))
    return found


__all__ = [
    "InvalidRecoveryInstanceRequest",
    "batch_get_rows",
    "check_existing_recovery_instances",
    "terminate_recovery_instances",
]
