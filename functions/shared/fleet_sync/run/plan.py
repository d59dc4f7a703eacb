"""The plan a sync fans out over: the (account, region) pairs worth scanning now.

- each account's active regions (serverCount > 0 at its last successful scan);
- every region of an account that has no status rows yet (a new account);
- every region of every account when the status table is empty or unreadable, or filtering is off;
- every pair whose lastChecked is older than the discovery age, or that was never checked, so that no
  pair goes unscanned longer than the discovery age and servers appearing in an empty region are found;
- every pair, in a `discovery` run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..core.clock import parse_iso
from ..core.errors import InvalidSyncInput
from .models import SyncInput
from .region_status import RegionStatus


@dataclass(frozen=True)
class Plan:
    decision: str
    items: list[dict[str, str]]  # [{"accountId", "region"}] in a stable order
    accounts: list[str]
    regions: list[str]  # every region in scope
    active_regions: list[str]  # regions holding servers in any account in scope (as last seen)
    pairs_total: int

    @property
    def pairs_skipped(self) -> int:
        return self.pairs_total - len(self.items)

    @property
    def regions_skipped(self) -> int:
        scanned = {i["region"] for i in self.items}
        return sum(1 for r in self.regions if r not in scanned)


SCOPED_DECISION = "scoped"


def pair_plan(account_id: str, region: str, registered: list[str], all_regions: list[str], kind: str = "") -> Plan:
    """A scoped run's plan: exactly one (account, region), which must be a registered account (of `kind`, when
    given: the sync's own selection) and a DRS region (an input error otherwise, before anything is written)."""
    if account_id not in registered:
        raise InvalidSyncInput(f"accountId: {account_id} is not a registered {kind + ' ' if kind else ''}account")
    if region not in all_regions:
        raise InvalidSyncInput(f"region: {region} is not a DRS region")
    return Plan(SCOPED_DECISION, [{"accountId": account_id, "region": region}], [account_id], [region], [], 1)


def scope(request: SyncInput, registered: list[str], all_regions: list[str]) -> tuple[list[str], list[str]]:
    """The accounts and regions a run may touch; unknown names are an input error, not an empty scan."""
    accounts = sorted(registered)
    if request.accounts is not None:
        unknown = sorted(set(request.accounts) - set(registered))
        if unknown:
            raise InvalidSyncInput(f"accounts: not registered in the accounts table: {unknown}")
        accounts = sorted(set(request.accounts))
    regions = list(all_regions)
    if request.regions is not None:
        unknown = sorted(set(request.regions) - set(all_regions))
        if unknown:
            raise InvalidSyncInput(f"regions: not DRS regions: {unknown}")
        regions = sorted(set(request.regions))
    return accounts, regions


def build_plan(
    *,
    request: SyncInput,
    registered_accounts: list[str],
    all_regions: list[str],
    statuses: list[RegionStatus] | None,
    filtering: bool,
    discovery_age: timedelta,
    now: datetime,
) -> Plan:
    """`statuses` is None when the region status table could not be read."""
    accounts, regions = scope(request, registered_accounts, all_regions)
    by_account: dict[str, dict[str, RegionStatus]] = defaultdict(dict)
    for s in statuses or []:
        by_account[s.accountId][s.region] = s
    in_accounts, in_regions = set(accounts), set(regions)  # membership per status row: sets, not lists
    active = sorted(
        {s.region for s in statuses or [] if s.active and s.accountId in in_accounts and s.region in in_regions}
    )

    def everything(decision: str) -> Plan:
        items = [{"accountId": a, "region": r} for a in accounts for r in regions]
        return Plan(decision, items, accounts, regions, active, len(accounts) * len(regions))

    if request.mode == "discovery":
        return everything("discovery")
    if not filtering:
        return everything("filtering_disabled")
    if statuses is None:
        return everything("fallback_error")
    if not statuses:
        return everything("fallback_empty")

    items = _due_items(accounts, regions, by_account, now - discovery_age)
    return Plan("filtered", items, accounts, regions, active, len(accounts) * len(regions))


def _due_items(
    accounts: list[str], regions: list[str], by_account: dict[str, dict[str, RegionStatus]], oldest_allowed: datetime
) -> list[dict[str, str]]:
    """The pairs a filtered plan scans: active ones, those of accounts with no rows, those with no row, and
    those not checked since `oldest_allowed`."""
    items: list[dict[str, str]] = []
    for account in accounts:
        rows = by_account.get(account)
        for region in regions:
            row = rows.get(region) if rows else None
            checked = parse_iso(row.lastChecked) if row is not None else None
            if row is None or row.active or checked is None or checked < oldest_allowed:
                items.append({"accountId": account, "region": region})
    return items
