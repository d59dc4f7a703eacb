"""The tag sync's work on one (account, region).

The pair's servers come from the inventory when the pair was scanned successfully within
INVENTORY_FRESH_MINUTES, else from DescribeSourceServers (1,000 per page, every page); their instances' tags
from one batched DescribeInstances per origin (account, region); then `tagging.sync_pair_tags`.
"""

from __future__ import annotations

from typing import Any

from ...core.observability import logger
from ...core.reads import describe_source_servers
from ...core.tables import INVENTORY, REGION_STATUS, SYNC_STATE
from ...run.region_status import RegionStatusStore
from ...run.sync_state import SyncStateStore
from ...run.worker import WorkContext, WorkOutcome
from ..inventory.queries import is_pair_fresh
from ..inventory.store import InventoryStore
from .tagging import Server, servers_from_drs, servers_from_inventory, sync_pair_tags


def list_pair_servers(ctx: WorkContext, drs: Any) -> tuple[list[Server], str]:
    """The pair's servers from the inventory when it is fresh for this pair, else from DRS."""
    item, settings = ctx.item, ctx.settings
    status = RegionStatusStore(ctx.product_table(REGION_STATUS)).get(item.accountId, item.region)
    if is_pair_fresh(status, settings.inventory_fresh_minutes):
        rows = InventoryStore(ctx.product_table(INVENTORY)).pair_rows(item.accountId, item.region)
        return servers_from_inventory(rows, item.accountId, item.region), "inventory"
    return servers_from_drs(describe_source_servers(drs), item.accountId, item.region), "drs"


def work(ctx: WorkContext) -> WorkOutcome:
    item = ctx.item
    drs = ctx.client("drs")
    servers, source = list_pair_servers(ctx, drs)
    report = sync_pair_tags(
        item.accountId,
        item.region,
        servers,
        access=ctx.access,
        state=SyncStateStore(ctx.product_table(SYNC_STATE)),
        inventory=InventoryStore(ctx.product_table(INVENTORY)),
        provenance=ctx.settings.tag_provenance,
    )
    report.counts["pairsFromInventory" if source == "inventory" else "pairsFromDrs"] += 1
    logger.info("tags synced", extra={"source": source, "servers": len(servers), "counts": dict(report.counts)})
    counts = {k: int(report.counts.get(k, 0)) for k in ("serversTagged", "tagsAdded", "tagsRemoved")}
    counts.update({k: int(v) for k, v in report.counts.items() if k not in counts})
    return WorkOutcome(server_count=len(servers), counts=counts, warnings=report.warnings)
