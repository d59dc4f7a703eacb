"""What the inventory sync changes in the shared run: its summary counters, and that its items' server counts
are the ones region status records."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ...run.models import ItemResult, RunRecord
from ...run.spec import SyncSpec
from ...run.summary import Summary, counter

MAX_ENRICHMENT_WARNINGS = 50


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


SPEC = SyncSpec("inventory", summary_model=InventorySummary, summary_fields=summary_fields, observes_server_counts=True)
