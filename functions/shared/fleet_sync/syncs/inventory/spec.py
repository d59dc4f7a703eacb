"""What the inventory sync changes in the shared run: its input (a scheduled or discovery run, or a scoped
run of one pair that a DRS event named), its summary counters, and that its items' server counts are the
ones region status records."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from ...core.clock import parse_iso
from ...core.ids import ACCOUNT_ID
from ...run.models import ItemResult, RunRecord, SyncInput
from ...run.plan import Plan, pair_plan
from ...run.spec import SyncSpec
from ...run.summary import Summary, counter

MAX_ENRICHMENT_WARNINGS = 50


class InventorySyncInput(SyncInput):
    """The common scope and mode, or a scoped run of one pair: `{"accountId", "region"}`, with the time of
    the DRS event that asked for it (`eventTime`, ISO 8601) when an event did; never both."""

    accountId: str | None = Field(default=None, pattern=ACCOUNT_ID)
    region: str | None = Field(default=None, min_length=1, max_length=32)
    eventTime: str | None = Field(default=None, max_length=40)

    @field_validator("eventTime")
    @classmethod
    def _event_time(cls, v: str | None) -> str | None:
        if v is not None and parse_iso(v) is None:
            raise ValueError(f"not an ISO 8601 time: {v!r}")
        return v

    @model_validator(mode="after")
    def _one_pair(self) -> InventorySyncInput:
        pair = {"accountId": self.accountId, "region": self.region}
        if self.eventTime is not None or any(v is not None for v in pair.values()):
            missing = sorted(k for k, v in pair.items() if v is None)
            if missing:
                raise ValueError(f"a scoped run names one pair: accountId and region; missing {missing}")
            if self.accounts is not None or self.regions is not None or self.mode is not None:
                raise ValueError("a scoped run takes no accounts, regions or mode")
        return self


def scoped_plan(request: SyncInput, registered_accounts: list[str], all_regions: list[str]) -> Plan | None:
    """A scoped run's plan: its one pair (any registered account). None for a scheduled or discovery run."""
    if not isinstance(request, InventorySyncInput) or request.accountId is None or request.region is None:
        return None
    return pair_plan(request.accountId, request.region, registered_accounts, all_regions)


class InventorySummary(Summary):
    serversWritten: int = counter("rows written (new or changed)")
    serversUnchanged: int = counter("rows DRS and EC2 left as they were")
    serversRemoved: int = counter("rows of servers no longer in DRS, removed")
    topologyInherited: int = counter("new rows whose original topology came from the server they reverse or extend")
    ec2ReadFailures: int = counter("EC2 origins (account, region) not readable: their rows keep the last known EC2")
    originsNotTrusted: int = counter("EC2 origins whose account does not allow the server's DRS account: not read")
    enrichmentWarnings: list[str] = Field(
        default_factory=list,
        description=f"each EC2 origin not read, with its pair and why (the first {MAX_ENRICHMENT_WARNINGS})",
    )


def summary_fields(summary: Summary, results: list[ItemResult], run: RunRecord) -> dict[str, Any]:
    warnings = [
        f"{r.accountId}/{r.region}: {w}" for r in results for w in r.warnings if w.startswith("EC2 details unavailable")
    ]
    return {"enrichmentWarnings": warnings[:MAX_ENRICHMENT_WARNINGS]}


SPEC = SyncSpec(
    "inventory",
    input_model=InventorySyncInput,
    summary_model=InventorySummary,
    summary_fields=summary_fields,
    observes_server_counts=True,
    scoped_plan=scoped_plan,
)
