"""What the inventory sync changes in the shared run: its summary counters, and that its items' server counts
are the ones region status records."""

from __future__ import annotations

from ...run.spec import SyncSpec
from ...run.summary import Summary, counter


class InventorySummary(Summary):
    serversWritten: int = counter("rows written (new or changed)")
    serversUnchanged: int = counter("rows DRS and EC2 left as they were")
    serversRemoved: int = counter("rows of servers no longer in DRS, removed")
    topologyInherited: int = counter("new rows whose original topology came from the server they reverse or extend")


SPEC = SyncSpec("inventory", summary_model=InventorySummary, observes_server_counts=True)
