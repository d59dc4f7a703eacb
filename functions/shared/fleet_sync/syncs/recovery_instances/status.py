"""The status of the recovery-instance sync: its last finished full run, from the sync-state record Finish
wrote (scoped wave-completion runs never replace it), and how long the cache is trusted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ...core import aws
from ...core.clock import parse_iso, utc_now
from ...core.settings import Settings, get_settings
from ...run.sync_state import SyncStateStore
from .spec import SYNC

SCHEDULE_MINUTES = 5  # the schedule's default (template.yaml RecoveryInstancesSyncRateMinutes)
MISSED_RUNS = 3  # the cache is trusted until this many scheduled runs in a row did not complete
FRESH_MINUTES = MISSED_RUNS * SCHEDULE_MINUTES  # with the default schedule


def fresh_minutes_of(settings: Settings) -> int:
    """How long the cache is trusted with the stack's schedule: a pair synced longer ago is stale."""
    return MISSED_RUNS * settings.recovery_instances_sync_rate_minutes


STATUS_CACHE_SECONDS = 30  # the last-sync status record is shared by the calls of one container this long
STATUS_BY_OUTCOME = {"complete": "healthy", "partial": "partial", "failed": "error"}

_status_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
_status_lock = threading.Lock()


def last_full_sync(
    state_table: Any, *, ttl_seconds: float = STATUS_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
) -> dict[str, Any] | None:
    """The sync's status item (the last finished full run), one GetItem per container per `ttl_seconds`."""
    with _status_lock:
        hit = _status_cache.get(state_table.name)
        if hit and clock() - hit[0] < ttl_seconds:
            return hit[1]
    item = SyncStateStore(state_table).sync_status(SYNC)
    with _status_lock:
        _status_cache[state_table.name] = (clock(), item)
    return item


def clear_status_cache() -> None:
    with _status_lock:
        _status_cache.clear()


def sync_status_record(
    item: dict[str, Any] | None, *, now: datetime | None = None, fresh_minutes: int = FRESH_MINUTES
) -> dict[str, Any]:
    """The status record of the last finished full run, from the sync-state item FinishRun wrote."""
    now = now or utc_now()
    if not item:
        return {
            "status": "no_sync_yet",
            "lastSyncTime": None,
            "instancesUpdated": 0,
            "instancesRemoved": 0,
            "regionsScanned": 0,
            "pairsScanned": 0,
            "errors": [],
            "errorCount": 0,
            "fresh": False,
            "freshMinutes": fresh_minutes,
        }
    summary = item.get("summary") or {}
    finished = parse_iso(item.get("finishedAt"))
    age = (now - finished).total_seconds() if finished else None
    work_items = summary.get("workItems") or []
    return {
        "status": STATUS_BY_OUTCOME.get(str(item.get("outcome")), "error"),
        "lastSyncTime": item.get("finishedAt"),
        "instancesUpdated": int(summary.get("instancesUpdated", 0)),
        "instancesRemoved": int(summary.get("instancesRemoved", 0)),
        "regionsScanned": len({w["region"] for w in work_items}),
        "pairsScanned": int(item.get("workItemCount", len(work_items))),
        "errors": summary.get("errors", []),
        "errorCount": int(item.get("errorCount", 0)),
        "decision": item.get("decision"),
        "executionArn": item.get("executionArn"),
        "durationMs": int(item.get("durationMs", 0)),
        "ageSeconds": None if age is None else max(0, int(age)),
        "fresh": age is not None and age <= fresh_minutes * 60,
        "freshMinutes": fresh_minutes,
    }


def get_recovery_instance_sync_status(
    settings: Settings | None = None, *, state_table: Any | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Status of the last finished scheduled (full) run: `healthy`, `partial`, `error` or `no_sync_yet`.

    Read from the sync-state item `status#recovery-instances` that FinishRun writes (one GetItem).
    """
    settings = settings or get_settings()
    if state_table is None:
        state_table = aws.dynamodb().Table(settings.sync_state_table)
    item = SyncStateStore(state_table).sync_status(SYNC)
    return sync_status_record(item, now=now, fresh_minutes=fresh_minutes_of(settings))
