"""The recovery-instance sync's work on one (account, region): a full sync, or a scoped run's servers."""

from __future__ import annotations

from ...core.tables import RECOVERY_INSTANCES
from ...run.worker import WorkContext, WorkOutcome
from .sync import History, Scope, sync_recovery_instances_for_account


def work(ctx: WorkContext) -> WorkOutcome:
    item, settings = ctx.item, ctx.settings
    scoped_ids = item.options.get("sourceServerIDs")
    result = sync_recovery_instances_for_account(
        item.accountId,
        item.region,
        access=ctx.access,
        table=ctx.product_table(RECOVERY_INSTANCES),
        history=History(
            ctx.table(settings.execution_history_table) if settings.execution_history_table else None,
            settings.execution_history_index,
        ),
        scope=Scope(list(scoped_ids), item.options["executionId"]) if scoped_ids is not None else None,
    )
    # Recovery instances are not the pair's source servers: the item lists none (instancesSeen counts them).
    return WorkOutcome(counts=result.counts(), warnings=result.warnings)
