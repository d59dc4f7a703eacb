"""The inventory's query interfaces with the DRS fallback: servers of some regions from the inventory, the
pairs whose data is stale read from DRS just for them (and written back with their topology preserved),
plus the freshness and failback-topology questions answered from the stack's own settings.

Only the data-management function reaches the fallback (POST /inventory/refresh): it needs the fleet role.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...core import aws
from ...core.aws import Credentials
from ...core.errors import AccountNotRegistered
from ...core.observability import logger
from ...core.reads import Access
from ...core.regions import drs_regions
from ...core.settings import Settings, get_settings
from ...run.accounts import AccountsStore, account_credentials, trusted_origin
from ...run.region_status import RegionStatusStore, invalidate_region_cache, load_region_statuses
from ...run.sync_state import SyncStateStore
from . import queries
from .scan import scan_pair
from .spec import SPEC
from .store import InventoryStore

QUERY_FILTERS = ("accountId", "sourceAccountId", "stagingAccountId", "replicationState", "hostname")


@dataclass
class InventoryQueryResult:
    servers: list[dict[str, Any]]
    source: str  # inventory | inventory+drs
    stale_pairs: list[tuple[str, str]] = field(default_factory=list)
    refreshed_pairs: list[tuple[str, str]] = field(default_factory=list)
    failed_pairs: list[dict[str, str]] = field(default_factory=list)
    oldest_success: str | None = None


@dataclass
class _Tables:
    inventory: Any
    region_status: Any
    sync_state: Any
    accounts: Any

    @classmethod
    def of(cls, settings: Settings) -> _Tables:
        ddb = aws.dynamodb()
        return cls(
            ddb.Table(settings.inventory_table),
            ddb.Table(settings.region_status_table),
            ddb.Table(settings.sync_state_table),
            ddb.Table(settings.accounts_table),
        )


class _CredentialsByAccount:
    """One AssumeRole per account for the whole query, with the account's own role and ExternalId; only for
    registered, enabled accounts (AccountNotRegistered, AccountDisabled: the pair is reported failed), and an
    EC2 origin only where it lets the DRS account being read use it (`for_origins_of`)."""

    def __init__(self, accounts_table: Any, settings: Settings) -> None:
        self._registered = {a.accountId: a for a in AccountsStore(accounts_table).all(include_disabled=True)}
        self._role_name = settings.cross_account_role_name
        self._made: dict[str, Credentials] = {}

    def __call__(self, account_id: str) -> Credentials:
        if account_id not in self._made:
            record = self._registered.get(account_id)
            if record is None:
                raise AccountNotRegistered(f"account {account_id} is not in the accounts table")
            self._made[account_id] = account_credentials(record, default_role_name=self._role_name, sync="query")
        return self._made[account_id]

    def for_origins_of(self, drs_account_id: str) -> Callable[[str], Credentials]:
        def origin(account_id: str) -> Credentials:
            trusted_origin(self._registered.get(account_id), account_id, drs_account_id)
            return self(account_id)

        return origin


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
    filters = filters or {}
    unknown = sorted(set(filters) - set(QUERY_FILTERS))
    if unknown:
        raise ValueError(f"unknown inventory filters: {unknown}; known: {list(QUERY_FILTERS)}")
    tables = _Tables.of(settings)
    store = InventoryStore(tables.inventory)
    statuses = load_region_statuses(
        tables.region_status, state_table=tables.sync_state, ttl_seconds=settings.region_cache_ttl_seconds
    )
    accounts = [filters["accountId"]] if filters.get("accountId") else None
    stale = queries.stale_pairs(statuses, regions, settings.inventory_fresh_minutes, accounts=accounts)
    result = InventoryQueryResult(servers=[], source="inventory", stale_pairs=stale)
    successes = [s.lastSuccess for s in statuses if s.region in set(regions) and s.active and s.lastSuccess]
    result.oldest_success = min(successes) if successes else None
    if stale and fallback:
        write_back = _read_from_drs(stale, tables, settings, store, write_back=write_back, sink=result)
    refreshed = set(result.refreshed_pairs) if not write_back else set()
    stored = [r for r in store.query(regions, filters) if (r["accountId"], r["replicationRegion"]) not in refreshed]
    result.servers = sorted(
        stored + result.servers, key=lambda r: (r.get("replicationRegion"), r.get("accountId"), r.get("sourceServerID"))
    )
    logger.info("inventory query", extra={"servers": len(result.servers), "source": result.source})
    return result


def _read_from_drs(
    stale: list[tuple[str, str]],
    tables: _Tables,
    settings: Settings,
    store: InventoryStore,
    *,
    write_back: bool,
    sink: InventoryQueryResult,
) -> bool:
    """Read the stale pairs from DRS into `sink`; write them back only while holding the inventory sync's
    lock (a sync running meanwhile would otherwise be rolled back by this older read). Returns whether the
    reads were written back."""
    logger.info("inventory stale for some pairs: reading them from DRS", extra={"stalePairs": len(stale)})
    state = SyncStateStore(tables.sync_state)
    holder = uuid.uuid4().hex
    if write_back and not state.try_lock_for_invocation(SPEC.name, holder):
        logger.info("an inventory run holds the lock: serving the DRS reads without writing them back")
        write_back = False
    try:
        _read_pairs(stale, tables, settings, store, write_back=write_back, sink=sink)
    finally:
        if write_back:
            state.release_invocation_lock(SPEC.name, holder)
    return write_back


def _read_pairs(
    stale: list[tuple[str, str]],
    tables: _Tables,
    settings: Settings,
    store: InventoryStore,
    *,
    write_back: bool,
    sink: InventoryQueryResult,
) -> None:
    credentials_for = _CredentialsByAccount(tables.accounts, settings)
    statuses = RegionStatusStore(tables.region_status)
    for account_id, region in stale:
        try:
            access = Access(credentials_for(account_id), credentials_for.for_origins_of(account_id), aws.client)
            scan = scan_pair(account_id, region, access)
            if write_back:
                existing = store.pair_rows(account_id, region)
                scan.keep_last_known_ec2(existing)
                store.write_records(scan.records, existing, scanned_at=scan.scanned_at)
                store.delete_missing(
                    account_id,
                    region,
                    {r["sourceServerID"] for r in scan.records},
                    existing,
                    scanned_at=scan.scanned_at,
                )
                statuses.record(account_id, region, len(scan.records), replicating_count=scan.replicating)
            else:
                sink.servers.extend(scan.records)
            sink.refreshed_pairs.append((account_id, region))
        except Exception as exc:  # a pair DRS cannot answer keeps serving its stored rows
            sink.failed_pairs.append({"accountId": account_id, "region": region, "code": aws.error_code(exc)})
    sink.source = "inventory+drs"
    if write_back and sink.refreshed_pairs:
        invalidate_region_cache(tables.sync_state)  # their region status just changed


def query_inventory_by_regions(regions: list[str], filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Seed interface: servers of the given regions, falling back to DRS for stale pairs (written back)."""
    return query_inventory(regions, filters).servers


def is_inventory_fresh(max_age_minutes: int = 15, regions: list[str] | None = None) -> bool:
    """Seed interface: every pair that holds servers was scanned successfully within max_age_minutes."""
    settings = get_settings()
    tables = _Tables.of(settings)
    statuses = load_region_statuses(
        tables.region_status, state_table=tables.sync_state, ttl_seconds=settings.region_cache_ttl_seconds
    )
    return queries.is_inventory_fresh(statuses, max_age_minutes, regions=regions or drs_regions(settings.drs_regions))


def get_failback_topology(source_server_id: str) -> dict[str, Any]:
    """Seed interface: the original region, account and template to reinstall the DRS agent against."""
    return queries.failback_topology(InventoryStore(_Tables.of(get_settings()).inventory), source_server_id)
