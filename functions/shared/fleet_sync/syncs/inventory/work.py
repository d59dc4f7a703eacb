"""The inventory sync's work on one (account, region)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from ...core import aws
from ...core.errors import PairHoldsRows
from ...core.regions import is_known_empty
from ...core.tables import INVENTORY
from ...run.worker import WorkContext, WorkOutcome
from .scan import scan_pair
from .store import InventoryStore


def work(ctx: WorkContext) -> WorkOutcome:
    item = ctx.item
    store = InventoryStore(ctx.product_table(INVENTORY))
    try:
        scan = scan_pair(item.accountId, item.region, ctx.access)
    except ClientError as exc:
        _refuse_to_empty(store, item.accountId, item.region, exc)
        raise
    existing = store.pair_rows(item.accountId, item.region)
    scan.keep_last_known_ec2(existing)
    stats = store.write_records(scan.records, existing, scanned_at=scan.scanned_at)
    # Reached only when the whole scan succeeded: a failed scan raised before this line.
    deleted = store.delete_missing(
        item.accountId, item.region, {r["sourceServerID"] for r in scan.records}, existing, scanned_at=scan.scanned_at
    )
    return WorkOutcome(
        server_count=len(scan.records),
        replicating_count=scan.replicating,
        counts={
            "serversWritten": stats.written,
            "serversUnchanged": stats.unchanged,
            "serversRemoved": deleted,
            "topologyInherited": stats.topology_inherited,
            "ec2ReadFailures": scan.ec2_read_failures,
            "originsNotTrusted": scan.origins_not_trusted,
        },
        warnings=scan.warnings,
    )


def _refuse_to_empty(store: InventoryStore, account_id: str, region: str, exc: ClientError) -> None:
    """A pair whose rows the inventory holds cannot turn empty by DRS saying it holds nothing there."""
    code = aws.error_code(exc)
    if is_known_empty(code):
        rows = len(store.pair_rows(account_id, region))
        if rows:
            raise PairHoldsRows(code, aws.error_message(exc), rows) from exc
