"""The region status table and the active-region cache.

Region status is kept per (accountId, region): with several accounts, one account's "not initialized"
must never hide another account's servers. A failed scan changes the status but keeps the last known
serverCount, so a throttled region never looks empty. A known-empty answer (UNINITIALIZED, NOT_ENABLED) is
recorded with 0 servers, as a success of its own status. The cache of statuses is shared by every caller in a
container for `REGION_CACHE_TTL_SECONDS`; a generation stamp in the sync-state table, bumped by
`invalidate_region_cache()`, makes every container drop its cache at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ..core import aws
from ..core.clock import iso, utc_now
from ..core.observability import logger
from ..core.regions import AVAILABLE, ERROR, KNOWN_EMPTY, drs_regions
from ..core.settings import Settings, get_settings
from ..core.tables import REGION_STATUS, scan_all
from .sync_state import SyncStateStore


@dataclass(frozen=True)
class RegionStatus:
    accountId: str
    region: str
    status: str = AVAILABLE
    serverCount: int | None = None
    replicatingCount: int | None = None
    lastChecked: str | None = None
    lastSuccess: str | None = None
    errorCode: str | None = None
    errorMessage: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> RegionStatus:
        def num(v: Any) -> int | None:
            return None if v is None else int(v)

        return cls(
            accountId=str(item["accountId"]),
            region=str(item["region"]),
            status=str(item.get("status", AVAILABLE)),
            serverCount=num(item.get("serverCount")),
            replicatingCount=num(item.get("replicatingCount")),
            lastChecked=item.get("lastChecked"),
            lastSuccess=item.get("lastSuccess"),
            errorCode=item.get("errorCode"),
            errorMessage=item.get("errorMessage"),
        )

    @property
    def active(self) -> bool:
        return (self.serverCount or 0) > 0

    @property
    def known_empty(self) -> bool:
        """DRS answered that it holds nothing here (never initialized, or the region not enabled)."""
        return self.status in KNOWN_EMPTY and self.serverCount == 0


@dataclass
class RegionStatusStore:
    table: Any

    def scan(self) -> list[RegionStatus]:
        """Every row, all pages (the table holds accounts x regions rows, far more than one page can)."""
        return [RegionStatus.from_item(i) for i in scan_all(self.table)]

    def get(self, account_id: str, region: str) -> RegionStatus | None:
        item = self.table.get_item(Key=REGION_STATUS.key(account_id, region)).get("Item")
        return RegionStatus.from_item(item) if item else None

    def record(
        self,
        account_id: str,
        region: str,
        server_count: int | None,
        error_message: str | None = None,
        *,
        status: str | None = None,
        replicating_count: int | None = None,
        error_code: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record one (account, region) scan outcome.

        Success sets the counts and clears the error. A known-empty answer (a known-empty status, no error
        message) sets 0 servers and keeps the answer's code. Failure sets the status and the error but never
        touches serverCount: the last known count stands until a scan succeeds.
        """
        ts = iso(now or utc_now())
        if status in KNOWN_EMPTY and not error_message:
            self._put_counts(account_id, region, status, 0, 0, ts, error_code)
            return
        if bool(error_message or error_code) or (status not in (None, AVAILABLE)):
            self.table.update_item(
                Key=REGION_STATUS.key(account_id, region),
                UpdateExpression="SET #s = :s, lastChecked = :t, errorCode = :c, errorMessage = :m",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":s": status if status not in (None, AVAILABLE) else ERROR,
                    ":t": ts,
                    ":c": error_code or "Error",
                    ":m": (error_message or "")[:1000],
                },
            )
            return
        if server_count is None:
            raise ValueError("a successful scan must report its server count")
        self._put_counts(account_id, region, AVAILABLE, server_count, replicating_count or 0, ts, None)

    def _put_counts(
        self, account_id: str, region: str, status: str, servers: int, replicating: int, ts: str, code: str | None
    ) -> None:
        values: dict[str, Any] = {":s": status, ":n": int(servers), ":r": int(replicating), ":t": ts}
        update = "SET #s = :s, serverCount = :n, replicatingCount = :r, lastChecked = :t, lastSuccess = :t"
        if code:
            values[":c"] = code
            update += ", errorCode = :c REMOVE errorMessage"
        else:
            update += " REMOVE errorCode, errorMessage"
        self.table.update_item(
            Key=REGION_STATUS.key(account_id, region),
            UpdateExpression=update,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
        )

    def mark_active(self, account_id: str, region: str, *, now: datetime | None = None) -> bool:
        """A DRS event said servers exist in the pair: make it active at once (a server count of at least 1)
        so every plan scans it, until a scan records the real count. A pair already active keeps its count;
        lastChecked (the discovery clock) is left to the scans. False when it was active already."""
        try:
            self.table.update_item(
                Key=REGION_STATUS.key(account_id, region),
                UpdateExpression="SET #s = :s, serverCount = :one, markedActiveAt = :t REMOVE errorCode, errorMessage",
                ConditionExpression="attribute_not_exists(serverCount) OR serverCount < :one",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": AVAILABLE, ":one": 1, ":t": iso(now or utc_now())},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def record_sync_outcome(
        self,
        sync: str,
        account_id: str,
        region: str,
        status: str,
        *,
        error_code: str | None = None,
        error_message: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record another sync's outcome for a pair in its own attribute (`<sync>Outcome`): the pair's
        `status`, counts and `lastChecked` are the inventory's discovery clock, never moved by other syncs.
        Only onto a row the inventory created (False when there is none)."""
        outcome: dict[str, Any] = {"status": status, "checkedAt": iso(now or utc_now())}
        if error_code or error_message:
            outcome.update(errorCode=error_code or "Error", errorMessage=(error_message or "")[:1000])
        try:
            self.table.update_item(
                Key=REGION_STATUS.key(account_id, region),
                UpdateExpression="SET #o = :o",
                ConditionExpression="attribute_exists(accountId)",
                ExpressionAttributeNames={"#o": outcome_attribute(sync)},
                ExpressionAttributeValues={":o": outcome},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True


def outcome_attribute(sync: str) -> str:
    """The region-status attribute a sync other than the inventory records its pair outcome in."""
    head, *rest = sync.split("-")
    return head + "".join(part.capitalize() for part in rest) + "Outcome"


# ------------------------------------------------------------------ cache


@dataclass
class _CacheEntry:
    generation: str | None
    loaded_at: float
    statuses: list[RegionStatus] = field(default_factory=list)


_cache: dict[str, _CacheEntry] = {}
_cache_lock = threading.Lock()


def load_region_statuses(
    table: Any,
    *,
    state_table: Any | None = None,
    ttl_seconds: float = 60,
    clock: Callable[[], float] = time.monotonic,
) -> list[RegionStatus]:
    """Region statuses through the cache: one Scan per TTL window and generation, one GetItem per call."""
    generation = SyncStateStore(state_table).generation() if state_table is not None else None
    name = table.name
    with _cache_lock:
        entry = _cache.get(name)
        if entry and entry.generation == generation and clock() - entry.loaded_at < ttl_seconds:
            return list(entry.statuses)
    statuses = RegionStatusStore(table).scan()
    with _cache_lock:
        _cache[name] = _CacheEntry(generation, clock(), statuses)
    return list(statuses)


def invalidate_region_cache(state_table: Any | None = None) -> str | None:
    """Drop this container's cache and, given the sync-state table, every other container's too."""
    with _cache_lock:
        _cache.clear()
    return SyncStateStore(state_table).bump_generation() if state_table is not None else None


# ------------------------------------------------------------------ active regions


@dataclass(frozen=True)
class ActiveRegions:
    regions: list[str]
    decision: str  # filtered | fallback_empty | fallback_error | filtering_disabled
    statuses: list[RegionStatus] | None  # None when the table could not be read


def resolve_active_regions(
    table: Any | None,
    *,
    all_regions: list[str],
    state_table: Any | None = None,
    cache_ttl: float = 60,
    filtering: bool = True,
) -> ActiveRegions:
    if not filtering:
        logger.info("region filtering is off: scanning every region", extra={"regions": len(all_regions)})
        return ActiveRegions(list(all_regions), "filtering_disabled", None)
    if table is None:
        logger.warning("region status table not configured: falling back to all regions")
        return ActiveRegions(list(all_regions), "fallback_error", None)
    try:
        statuses = load_region_statuses(table, state_table=state_table, ttl_seconds=cache_ttl)
    except Exception as exc:
        logger.error("region status table unreadable: falling back to all regions", extra={"error": str(exc)})
        return ActiveRegions(list(all_regions), "fallback_error", None)
    if not statuses:
        logger.warning("region status table empty: falling back to all regions", extra={"regions": len(all_regions)})
        return ActiveRegions(list(all_regions), "fallback_empty", statuses)
    wanted = set(all_regions)
    active = sorted({s.region for s in statuses if s.active and s.region in wanted})
    logger.info(
        "active regions resolved",
        extra={"activeRegions": len(active), "regionsSkipped": len(all_regions) - len(active), "decision": "filtered"},
    )
    return ActiveRegions(active, "filtered", statuses)


def active_regions_of(settings: Settings) -> ActiveRegions:
    """The active regions with the stack's own tables and settings."""
    ddb = aws.dynamodb()
    return resolve_active_regions(
        ddb.Table(settings.region_status_table),
        all_regions=drs_regions(settings.drs_regions),
        state_table=ddb.Table(settings.sync_state_table),
        cache_ttl=settings.region_cache_ttl_seconds,
        filtering=settings.region_filtering,
    )


def get_active_regions(region_status_table: Any | None = None, cache_ttl: int | None = None) -> list[str]:
    """Regions with serverCount > 0 in any account; all DRS regions when the table is empty or failing.

    With no table given, the table comes from the REGION_STATUS_TABLE setting.
    """
    state_table = None
    settings: Settings | None
    try:
        settings = get_settings()
    except Exception:  # settings are optional for callers that pass a table
        settings = None
    all_regions = drs_regions(settings.drs_regions if settings else "")
    if settings is not None:
        ddb = aws.dynamodb()
        region_status_table = region_status_table or ddb.Table(settings.region_status_table)
        state_table = ddb.Table(settings.sync_state_table)
        ttl = settings.region_cache_ttl_seconds if cache_ttl is None else cache_ttl
        filtering = settings.region_filtering
    else:
        ttl, filtering = (60 if cache_ttl is None else cache_ttl), True
    return resolve_active_regions(
        region_status_table, all_regions=all_regions, state_table=state_table, cache_ttl=ttl, filtering=filtering
    ).regions
