"""Which source servers have a recovery instance, from the cache alone (the recovery-plans page).

One BatchGetItem per 100 servers. A row older than the freshness window, or a server with no row while the
last full sync is old or incomplete, is reported as `unknown`, never as "no instance".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ...core import aws
from ...core.clock import iso, parse_iso, utc_now
from ...core.errors import InvalidSyncInput
from ...core.observability import logger
from ...core.settings import Settings, get_settings
from .status import fresh_minutes_of, last_full_sync
from .store import batch_get_rows

# Fields of a cache row the page shows.
INSTANCE_FIELDS = (
    "sourceServerID",
    "recoveryInstanceID",
    "ec2InstanceID",
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
    "jobID",
    "isDrill",
    "replicationStagingAccountId",
    "lastSyncTime",
)


class InvalidRecoveryInstanceRequest(InvalidSyncInput):
    """A cache query or terminate request names nothing, or names it badly."""


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


def _classify(
    ids: list[str],
    rows: dict[str, dict[str, Any]],
    unprocessed: list[str],
    missing_reason: str | None,
    oldest: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """(fresh instances, stale instances, why each unknown server is unknown)."""
    existing: list[dict[str, Any]] = []
    stale: list[dict[str, Any]] = []
    reasons: dict[str, str] = {}
    for sid in ids:
        row = rows.get(sid)
        if row is not None:
            synced = parse_iso(row.get("lastSyncTime"))
            fresh = synced is not None and synced >= oldest
            (existing if fresh else stale).append({k: row.get(k) for k in INSTANCE_FIELDS})
            if not fresh:
                reasons[sid] = "stale"
        elif sid in unprocessed:
            reasons[sid] = "unprocessed"
        elif missing_reason:
            reasons[sid] = missing_reason
    return existing, stale, reasons


def check_existing_recovery_instances(
    source_server_ids: Iterable[str],
    *,
    settings: Settings | None = None,
    ddb: Any = None,
    now: datetime | None = None,
    fresh_minutes: int | None = None,
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
    fresh_minutes = fresh_minutes or fresh_minutes_of(settings)
    ddb = ddb or aws.dynamodb()
    now = now or utc_now()
    rows, unprocessed = batch_get_rows(ddb, settings.recovery_instances_table, ids) if ids else ({}, [])
    status_needed = [sid for sid in ids if sid not in rows and sid not in unprocessed]
    status = last_full_sync(ddb.Table(settings.sync_state_table)) if status_needed else None
    missing_reason = _missing_row_reason(status, now, fresh_minutes) if status_needed else None
    existing, stale, reasons = _classify(ids, rows, unprocessed, missing_reason, now - timedelta(minutes=fresh_minutes))
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
