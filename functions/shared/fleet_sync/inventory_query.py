"""The inventory's query side (seed interfaces): region queries through indexes, per-pair freshness with a
DRS fallback for just the stale pairs, and the failback topology of one server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import aws
from .accounts import AccountRecord, account_session, list_accounts
from .inventory import InventoryStore, failback_topology, scan_pair, stale_pairs
from .inventory import is_inventory_fresh as _fresh
from .observability import logger
from .regions import RegionStatus, drs_regions, invalidate_region_cache, load_region_statuses, update_region_status
from .settings import Settings, get_settings

QUERY_FILTERS = ("accountId", "sourceAccountId", "stagingAccountId", "replicationState", "hostname")


@dataclass
class InventoryQueryResult:
    servers: list[dict[str, Any]]
    source: str  # inventory | inventory+drs
    stale_pairs: list[tuple[str, str]] = field(default_factory=list)
    refreshed_pairs: list[tuple[str, str]] = field(default_factory=list)
    failed_pairs: list[dict[str, str]] = field(default_factory=list)
    oldest_success: str | None = None


def _tables(settings: Settings):
    ddb = aws.dynamodb()
    return (
        ddb.Table(settings.inventory_table),
        ddb.Table(settings.region_status_table),
        ddb.Table(settings.sync_state_table),
        ddb.Table(settings.accounts_table),
    )


def query_inventory(
    regions: list[str],
    filters: dict[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    fallback: bool = True,
    write_back: bool = True,
) -> InventoryQueryResult:
    """Servers of the given regions from the inventory; pairs whose data is stale are read from DRS
    (and, with write_back, written back with their topology preserved)."""
    settings = settings or get_settings()
    unknown = sorted(set(filters or {}) - set(QUERY_FILTERS))
    if unknown:
        raise ValueError(f"unknown inventory filters: {unknown}; known: {list(QUERY_FILTERS)}")
    inv, status_table, state_table, accounts_table = _tables(settings)
    store = InventoryStore(inv)
    statuses: list[RegionStatus] = load_region_statuses(
        status_table, state_table=state_table, ttl_seconds=settings.region_cache_ttl_seconds
    )
    accounts = [(filters or {}).get("accountId")] if (filters or {}).get("accountId") else None
    stale = stale_pairs(statuses, regions, settings.inventory_fresh_minutes, accounts=accounts)
    result = InventoryQueryResult(servers=[], source="inventory", stale_pairs=stale)
    successes = [s.lastSuccess for s in statuses if s.region in set(regions) and s.active and s.lastSuccess]
    result.oldest_success = min(successes) if successes else None
    if stale and fallback:
        logger.info("inventory stale for some pairs: reading them from DRS", extra={"stalePairs": len(stale)})
        registered = {a.accountId: a for a in list_accounts(accounts_table)}
        sessions: dict[str, Any] = {}

        def session_for(account_id: str) -> Any:
            """One AssumeRole per account for the whole query, with the account's own role and ExternalId."""
            if account_id not in sessions:
                record = registered.get(account_id) or AccountRecord(accountId=account_id)
                sessions[account_id] = account_session(
                    record, default_role_name=settings.cross_account_role_name, sync="query"
                )
            return sessions[account_id]

        for account_id, region in stale:
            try:
                _refresh_pair(
                    account_id,
                    region,
                    session_for=session_for,
                    store=store,
                    status_table=status_table,
                    write_back=write_back,
                    sink=result,
                )
                result.refreshed_pairs.append((account_id, region))
            except Exception as exc:  # a pair DRS cannot answer keeps serving its stored rows
                result.failed_pairs.append({"accountId": account_id, "region": region, "code": aws.error_code(exc)})
        result.source = "inventory+drs"
        if write_back and result.refreshed_pairs:
            invalidate_region_cache(state_table)  # their region status just changed
    refreshed = set(result.refreshed_pairs) if not write_back else set()
    stored = [r for r in store.query(regions, filters) if (r["accountId"], r["replicationRegion"]) not in refreshed]
    result.servers = sorted(
        stored + result.servers, key=lambda r: (r.get("replicationRegion"), r.get("accountId"), r.get("sourceServerID"))
    )
    logger.info("inventory query", extra={"servers": len(result.servers), "source": result.source})
    return result


def _refresh_pair(
    account_id: str,
    region: str,
    *,
    session_for: Any,
    store: InventoryStore,
    status_table: Any,
    write_back: bool,
    sink: InventoryQueryResult,
) -> None:
    scan = scan_pair(account_id, region, session=session_for(account_id), session_for=session_for, client=aws.client)
    if write_back:
        existing = store.pair_rows(account_id, region)
        store.write_records(scan.records, existing)
        store.delete_missing(account_id, region, {r["sourceServerID"] for r in scan.records}, existing)
        update_region_status(
            account_id, region, len(scan.records), table=status_table, replicating_count=scan.replicating
        )
    else:
        sink.servers.extend(scan.records)


def query_inventory_by_regions(regions: list[str], filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Seed interface: servers of the given regions, falling back to DRS for stale pairs (written back)."""
    return query_inventory(regions, filters).servers


def is_inventory_fresh(max_age_minutes: int = 15, regions: list[str] | None = None) -> bool:
    """Seed interface: every pair that holds servers was scanned successfully within max_age_minutes."""
    settings = get_settings()
    _, status_table, state_table, _ = _tables(settings)
    statuses = load_region_statuses(
        status_table, state_table=state_table, ttl_seconds=settings.region_cache_ttl_seconds
    )
    return _fresh(statuses, max_age_minutes, regions=regions or drs_regions(settings.drs_regions))


def get_failback_topology(source_server_id: str) -> dict[str, Any]:
    """Seed interface: the original region, account and template to reinstall the DRS agent against."""
    settings = get_settings()
    inv, *_ = _tables(settings)
    return failback_topology(InventoryStore(inv), source_server_id)
