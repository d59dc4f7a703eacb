"""Read-only questions about the inventory: how fresh each pair is (judged from region status, never from a
sample row) and the failback topology of one server."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ...core.clock import parse_iso, utc_now
from ...core.observability import logger
from ...run.region_status import RegionStatus
from .store import InventoryStore


class ServerNotFound(LookupError):
    """No inventory row holds this source server."""


def is_pair_fresh(status: RegionStatus | None, max_age_minutes: int, now: datetime | None = None) -> bool:
    if status is None:
        return False
    last = parse_iso(status.lastSuccess)
    return last is not None and last >= (now or utc_now()) - timedelta(minutes=max_age_minutes)


def stale_pairs(
    statuses: list[RegionStatus],
    regions: list[str],
    max_age_minutes: int,
    *,
    accounts: list[str] | None = None,
    now: datetime | None = None,
) -> list[tuple[str, str]]:
    """Pairs holding servers (as last seen) whose last successful scan is older than max_age_minutes."""
    wanted = set(regions)
    return sorted(
        (s.accountId, s.region)
        for s in statuses
        if s.region in wanted
        and (accounts is None or s.accountId in accounts)
        and s.active
        and not is_pair_fresh(s, max_age_minutes, now)
    )


def is_inventory_fresh(
    statuses: list[RegionStatus],
    max_age_minutes: int = 15,
    *,
    regions: list[str] | None = None,
    now: datetime | None = None,
) -> bool:
    """True when every pair that holds servers was scanned successfully within max_age_minutes."""
    in_scope = regions if regions is not None else sorted({s.region for s in statuses})
    has_data = any(s.active for s in statuses if s.region in set(in_scope))
    return has_data and not stale_pairs(statuses, in_scope, max_age_minutes, now=now)


def freshness(
    statuses: list[RegionStatus], regions: list[str], fresh_minutes: int, accounts: list[str] | None
) -> dict[str, Any]:
    """How fresh the inventory of these regions (and accounts) is: what the API's inventory page reports."""
    stale = stale_pairs(statuses, regions, fresh_minutes, accounts=accounts)
    by_pair = {(s.accountId, s.region): s for s in statuses}
    in_scope = [
        s for s in statuses if s.region in set(regions) and s.active and (accounts is None or s.accountId in accounts)
    ]
    successes = sorted(s.lastSuccess for s in in_scope if s.lastSuccess)
    return {
        "fresh": bool(in_scope) and not stale,
        "freshMinutes": fresh_minutes,
        "oldestSuccess": successes[0] if successes else None,
        "newestSuccess": successes[-1] if successes else None,
        "pairsWithServers": len(in_scope),
        "stalePairs": [
            {"accountId": a, "region": r, "lastSuccess": by_pair[(a, r)].lastSuccess, "status": by_pair[(a, r)].status}
            for a, r in stale
        ],
    }


def failback_topology(store: InventoryStore, source_server_id: str) -> dict[str, Any]:
    """The original region, account and template to reinstall a server's DRS agent against."""
    rows = store.rows_by_server_id(source_server_id)
    if not rows:
        raise ServerNotFound(f"source server {source_server_id} is not in the inventory")
    rows.sort(key=lambda r: (not r.get("originalSourceRegion"), r.get("accountRegion")))
    row = rows[0]
    out = {
        "sourceServerID": source_server_id,
        "originalSourceRegion": row.get("originalSourceRegion"),
        "originalAccountId": row.get("originalAccountId"),
        "originalReplicationConfigTemplateId": row.get("originalReplicationConfigTemplateId"),
        "topologyLastUpdated": row.get("topologyLastUpdated"),
        "currentRegion": row.get("replicationRegion"),
        "currentAccountId": row.get("accountId"),
        "replicationDirection": row.get("replicationDirection"),
        "hostname": row.get("hostname"),
    }
    if not row.get("originalSourceRegion"):
        out["warning"] = "no original topology recorded for this server (legacy record): use its current region"
        logger.warning("server has no original topology", extra={"sourceServerID": source_server_id})
    return out
