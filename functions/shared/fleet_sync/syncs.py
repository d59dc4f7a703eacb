"""What differs between syncs: the input they accept, the accounts they cover, the counters they report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .accounts import AccountRecord
from .models import SyncInput


def all_accounts(accounts: list[AccountRecord], request: SyncInput) -> list[AccountRecord]:
    return accounts


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


SYNCS: dict[str, SyncSpec] = {
    "inventory": SyncSpec(
        "inventory",
        "inventory-sync",
        summary_counts=("serversWritten", "serversUnchanged", "serversRemoved", "topologyInherited"),
        observes_server_counts=True,
    ),
}


def sync_spec(name: str) -> SyncSpec:
    from .errors import InvalidSyncInput

    try:
        return SYNCS[name]
    except KeyError:
        raise InvalidSyncInput(f"unknown sync {name!r}; known: {', '.join(SYNCS)}") from None
