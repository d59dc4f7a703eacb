"""What differs between syncs, as one `SyncSpec` each (each sync's `syncs/<sync>/spec.py` defines its own):
the input it accepts, the accounts it covers, its summary model and the hooks the shared tasks call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .accounts import AccountRecord
from .models import ItemResult, RunRecord, SyncInput
from .plan import Plan
from .region_status import RegionStatus
from .summary import Summary

SelectAccounts = Callable[[list[AccountRecord], SyncInput], list[AccountRecord]]
PlanStatuses = Callable[[list[RegionStatus] | None, list[AccountRecord]], list[RegionStatus] | None]
SummaryFields = Callable[[Summary, list[ItemResult], RunRecord], dict[str, Any]]
ScopedPlan = Callable[[SyncInput, list[str], list[str]], Plan | None]


def all_accounts(accounts: list[AccountRecord], request: SyncInput) -> list[AccountRecord]:
    return accounts


def statuses_as_read(statuses: list[RegionStatus] | None, registered: list[AccountRecord]) -> list[RegionStatus] | None:
    return statuses


def no_fields(summary: Summary, results: list[ItemResult], run: RunRecord) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class SyncSpec:
    name: str
    input_model: type[SyncInput] = SyncInput
    # The summary: the common fields plus the sync's own counters and fields.
    summary_model: type[Summary] = Summary
    # Which registered accounts the sync's plan covers.
    select_accounts: SelectAccounts = all_accounts
    # Whether a successful item's serverCount is a full DRS count worth recording in region status.
    observes_server_counts: bool = False
    # The region statuses the plan is built from, given every registered account (e.g. the staging sync
    # plans a target's regions from its staging accounts' statuses). None means the table was unreadable.
    plan_statuses: PlanStatuses = statuses_as_read
    # The sync's own summary fields (not its counters) from the common summary, the item results and the run.
    summary_fields: SummaryFields = no_fields
    # A scoped run's plan from its input and (registered accounts, all regions), or None for a normal run.
    # A scoped run (decision "scoped") leaves the sync's status record alone; like every run it writes under
    # the sync's lock, which its starter takes before StartExecution (run/start.py).
    scoped_plan: ScopedPlan | None = None
