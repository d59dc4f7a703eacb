"""DRS regions, the region status table and the active-region cache.

Region status is kept per (accountId, region): with several accounts, one account's "not initialized"
must never hide another account's servers. A failed scan changes the status but keeps the last known
serverCount, so a throttled region never looks empty. The cache of statuses is shared by every caller in a
container for `REGION_CACHE_TTL_SECONDS`; a generation stamp in the sync-state table, bumped by
`invalidate_region_cache()`, makes every container drop its cache at once.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import boto3

from . import aws
from .observability import logger
from .tables import key, scan_all

AVAILABLE = "AVAILABLE"
UNINITIALIZED = "UNINITIALIZED"
NOT_ENABLED = "NOT_ENABLED"
ACCESS_DENIED = "ACCESS_DENIED"
THROTTLED = "THROTTLED"
ERROR = "ERROR"
STATUSES = (AVAILABLE, UNINITIALIZED, NOT_ENABLED, ACCESS_DENIED, THROTTLED, ERROR)

_STATUS_BY_ERROR = {
    "UninitializedAccountException": UNINITIALIZED,
    "AccessDeniedException": ACCESS_DENIED,
    "AccessDenied": ACCESS_DENIED,
    "UnauthorizedOperation": ACCESS_DENIED,
    # An opt-in region the account has not enabled rejects the credentials outright.
    "UnrecognizedClientException": NOT_ENABLED,
    "InvalidClientTokenId": NOT_ENABLED,
    "AuthFailure": NOT_ENABLED,
    "OptInRequired": NOT_ENABLED,
    "ThrottlingException": THROTTLED,
    "Throttling": THROTTLED,
    "TooManyRequestsException": THROTTLED,
    "RequestLimitExceeded": THROTTLED,
    "RegionScanThrottled": THROTTLED,
}

GENERATION_KEY = key("SYNC_STATE_TABLE", "cache#regions", "generation")


def status_for_error(code: str) -> str:
    """The region status a failed (account, region) scan is recorded with."""
    return _STATUS_BY_ERROR.get(code, ERROR)


@lru_cache(maxsize=1)
def sdk_drs_regions() -> tuple[str, ...]:
    """Commercial-partition DRS regions from the SDK's endpoint data (34 with botocore 1.44)."""
    return tuple(sorted(boto3.session.Session().get_available_regions("drs")))


def drs_regions(override: str = "") -> list[str]:
    """The regions the product considers: the template's override when given, else the SDK's list."""
    chosen = [r.strip() for r in override.split(",") if r.strip()]
    return sorted(set(chosen)) if chosen else list(sdk_drs_regions())


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


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


def scan_region_statuses(table: Any) -> list[RegionStatus]:
    """Every row, all pages (the table holds accounts x regions rows, far more than one page can)."""
    return [RegionStatus.from_item(i) for i in scan_all(table)]


# ------------------------------------------------------------------ cache


@dataclass
class _CacheEntry:
    generation: str | None
    loaded_at: float
    statuses: list[RegionStatus] = field(default_factory=list)


_cache: dict[str, _CacheEntry] = {}
_cache_lock = threading.Lock()


def read_generation(state_table: Any | None) -> str | None:
    if state_table is None:
        return None
    try:
        item = state_table.get_item(Key=GENERATION_KEY).get("Item")
    except Exception as exc:  # an unreadable stamp only costs a cache miss
        logger.warning("region cache generation unreadable", extra={"error": str(exc)})
        return None
    return str(item["generation"]) if item else None


def load_region_statuses(
    table: Any, *, state_table: Any | None = None, ttl_seconds: float = 60, clock=time.monotonic
) -> list[RegionStatus]:
    """Region statuses through the cache: one Scan per TTL window and generation, one GetItem per call."""
    generation = read_generation(state_table)
    key = table.name
    with _cache_lock:
        entry = _cache.get(key)
        if entry and entry.generation == generation and clock() - entry.loaded_at < ttl_seconds:
            return list(entry.statuses)
    statuses = scan_region_statuses(table)
    with _cache_lock:
        _cache[key] = _CacheEntry(generation, clock(), statuses)
    return list(statuses)


def invalidate_region_cache(state_table: Any | None = None) -> str | None:
    """Drop this container's cache and, given the sync-state table, every other container's too."""
    with _cache_lock:
        _cache.clear()
    if state_table is None:
        return None
    generation = uuid.uuid4().hex
    state_table.put_item(Item={**GENERATION_KEY, "generation": generation, "updatedAt": iso(utc_now())})
    return generation


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


def get_active_regions(region_status_table: Any | None = None, cache_ttl: int | None = None) -> list[str]:
    """Regions with serverCount > 0 in any account; all DRS regions when the table is empty or failing.

    With no table given, the table comes from the REGION_STATUS_TABLE setting.
    """
    from .settings import get_settings  # settings are optional for callers that pass a table

    state_table = None
    try:
        settings = get_settings()
    except Exception:
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


# ------------------------------------------------------------------ writes


def update_region_status(
    account_id: str,
    region: str,
    server_count: int | None,
    error_message: str | None = None,
    *,
    table: Any,
    status: str | None = None,
    replicating_count: int | None = None,
    error_code: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record one (account, region) scan outcome.

    Success sets the counts and clears the error. Failure sets the status and the error but never
    touches serverCount: the last known count stands until a scan succeeds.
    """
    ts = iso(now or utc_now())
    failed = bool(error_message or error_code) or (status not in (None, AVAILABLE))
    if failed:
        table.update_item(
            Key=key("REGION_STATUS_TABLE", account_id, region),
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
    table.update_item(
        Key=key("REGION_STATUS_TABLE", account_id, region),
        UpdateExpression=(
            "SET #s = :s, serverCount = :n, replicatingCount = :r, lastChecked = :t, lastSuccess = :t "
            "REMOVE errorCode, errorMessage"
        ),
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":s": AVAILABLE,
            ":n": int(server_count),
            ":r": int(replicating_count or 0),
            ":t": ts,
        },
    )
