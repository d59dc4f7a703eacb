"""What the stack keeps about an account besides its accounts-table row, removed with it.

Removing an account (DELETE of a target, or of the last target listing a staging account) is one step: the
account's row goes, then its inventory rows (its (account, region) pairs), its region-status rows and its
recovery-instance cache rows, in the same request. Nothing the stack stores then names the account, so no
later run, refresh or terminate can reach it. (A sync run already past its plan when the account is removed
may still write that pair once; the worker refuses an unregistered account at the start of its item.)
"""

from __future__ import annotations

from typing import Any

from ..core import aws
from ..core.observability import logger
from ..core.regions import drs_regions
from ..core.settings import Settings
from ..core.tables import INVENTORY, REGION_STATUS, account_region, query_all
from ..run.region_status import invalidate_region_cache
from ..syncs.inventory.store import InventoryStore
from ..syncs.recovery_instances.store import CacheStore

ROW_KINDS = ("inventoryRows", "regionStatusRows", "recoveryInstanceRows")


def _regions(status_rows: list[dict[str, Any]], settings: Settings) -> list[str]:
    return sorted(set(drs_regions(settings.drs_regions)) | {r["region"] for r in status_rows})


def purge_account_rows(account_id: str, settings: Settings) -> dict[str, int]:
    """Delete every inventory, region-status and cache row of the account; how many of each."""
    ddb = aws.dynamodb()
    status_table = ddb.Table(settings.region_status_table)
    statuses = query_all(status_table, KeyConditionExpression=REGION_STATUS.partition(account_id))
    inventory = InventoryStore(ddb.Table(settings.inventory_table))
    cache = CacheStore(ddb.Table(settings.recovery_instances_table))
    counts = dict.fromkeys(ROW_KINDS, 0)
    for region in _regions(statuses, settings):
        rows = inventory.pair_rows(account_id, region)
        with inventory.table.batch_writer() as batch:
            for sid in rows:
                batch.delete_item(Key=INVENTORY.key(account_region(account_id, region), sid))
        counts["inventoryRows"] += len(rows)
        counts["recoveryInstanceRows"] += cache.delete_rows(cache.pair_rows(account_id, region))
    with status_table.batch_writer() as batch:
        for row in statuses:
            batch.delete_item(Key=REGION_STATUS.key(account_id, row["region"]))
    counts["regionStatusRows"] = len(statuses)
    if statuses:
        invalidate_region_cache(ddb.Table(settings.sync_state_table))
    return counts


def with_rows_removed(result: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The answer of an accounts-table removal, after removing the rows of every account it removed."""
    removed = {a: purge_account_rows(a, settings) for a in sorted(_removed_ids(result))}
    logger.info("account rows removed", extra={"rowsRemoved": removed})
    return {**result, "rowsRemoved": removed}


def _removed_ids(result: dict[str, Any]) -> set[str]:
    ids = set(result.get("stagingAccountsRemoved") or [])
    if result.get("removed") and "stagingAccountId" not in result:
        ids.add(result["accountId"])
    if result.get("stagingRowRemoved"):
        ids.add(result["stagingAccountId"])
    return ids
