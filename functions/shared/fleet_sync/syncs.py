"""What differs between syncs: the input they accept, the accounts they cover, the counters they report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .accounts import AccountRecord
from .models import ItemResult, SyncInput
from .plan import Plan
from .recovery_models import RecoveryInstanceSyncInput, scoped_plan, target_accounts
from .regions import RegionStatus
from .staging_spec import StagingSyncInput, refine_staging_summary, staging_plan_statuses, staging_targets
from .tags_spec import TagSyncInput, refine_tag_summary


def all_accounts(accounts: list[AccountRecord], request: SyncInput) -> list[AccountRecord]:
    return accounts


def statuses_as_read(statuses: list[RegionStatus] | None, registered: list[AccountRecord]) -> list[RegionStatus] | None:
    return statuses


def summary_as_built(summary: dict[str, Any], results: list[ItemResult], run: dict[str, Any]) -> dict[str, Any]:
    return summary


@dataclass(frozen=True)
class SyncSpec:
    name: str
    machine_suffix: str  # the state machine is named "{stack}-{machine_suffix}"
    input_model: type[SyncInput] = SyncInput
    # Which registered accounts the sync's plan covers.
    select_accounts: Callable[[list[AccountRecord], SyncInput], list[AccountRecord]] = all_accounts
    # Item counters the summary lifts to the top level (e.g. serversTagged).
    summary_counts: tuple[str, ...] = ()
    # Whether a successful item's serverCount is a full DRS count worth recording in region status.
    observes_server_counts: bool = False
    # The region statuses the plan is built from, given every registered account (e.g. the staging sync
    # plans a target's regions from its staging accounts' statuses). None means the table was unreadable.
    plan_statuses: Callable[[list[RegionStatus] | None, list[AccountRecord]], list[RegionStatus] | None] = (
        statuses_as_read
    )
    # Sync-specific summary fields built from the item results and the run (e.g. skipped by reason).
    refine_summary: Callable[[dict[str, Any], list[ItemResult], dict[str, Any]], dict[str, Any]] = summary_as_built
    # A scoped run's plan from its input and (registered accounts, all regions), or None for a normal run.
    # A scoped run (decision "scoped") takes no lock and leaves the sync's status record alone.
    scoped_plan: Callable[[SyncInput, list[str], list[str]], Plan | None] | None = None


SYNCS: dict[str, SyncSpec] = {
    "inventory": SyncSpec(
        "inventory",
        "inventory-sync",
        summary_counts=("serversWritten", "serversUnchanged", "serversRemoved", "topologyInherited"),
        observes_server_counts=True,
    ),
    "tags": SyncSpec(
        "tags",
        "tag-sync",
        input_model=TagSyncInput,
        summary_counts=("serversTagged", "tagsAdded", "tagsRemoved", "launchConfigsUpdated"),
        refine_summary=refine_tag_summary,
    ),
    "staging": SyncSpec(
        "staging",
        "staging-account-sync",
        input_model=StagingSyncInput,
        select_accounts=staging_targets,
        summary_counts=("serversExtended", "serversFailed", "serversDeferred", "serversAlreadyExtended"),
        plan_statuses=staging_plan_statuses,
        refine_summary=refine_staging_summary,
    ),
    "recovery-instances": SyncSpec(
        "recovery-instances",
        "recovery-instance-sync",
        input_model=RecoveryInstanceSyncInput,
        select_accounts=target_accounts,
        summary_counts=("instancesUpdated", "instancesRemoved"),
        scoped_plan=scoped_plan,
    ),
}


def sync_spec(name: str) -> SyncSpec:
    from .errors import InvalidSyncInput

    try:
        return SYNCS[name]
    except KeyError:
        raise InvalidSyncInput(f"unknown sync {name!r}; known: {', '.join(SYNCS)}") from None
