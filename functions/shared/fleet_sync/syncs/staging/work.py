"""The staging sync's work on one (target account, active region): auto-extend its staging servers.

The target's role is assumed once (by the worker frame); the run's execution is recorded with every
extension for audit. Outside a discovery run, a staging account region status knows to hold no servers in the
region is not listed: the plan visits the pair for the staging accounts that do.
"""

from __future__ import annotations

from ...core.tables import STAGING_EXTENSIONS
from ...run.accounts import AccountRecord
from ...run.models import is_sample_run
from ...run.region_status import RegionStatusStore
from ...run.worker import WorkContext, WorkOutcome
from .extend import ExtendRun, auto_extend_staging_servers
from .store import ExtensionStore

REPORTED = ("serversExtended", "serversFailed", "serversDeferred", "serversAlreadyExtended", "serversToExtend")


def work(ctx: WorkContext) -> WorkOutcome:
    item = ctx.item
    report = auto_extend_staging_servers(
        ctx.account if item.mode == "discovery" else _with_staging_servers(ctx),
        [item.region],
        drs_for=lambda region: ctx.client("drs", region=region),
        store=ExtensionStore(ctx.product_table(STAGING_EXTENSIONS)),
        run=ExtendRun(
            execution_arn=item.executionArn or item.runId,
            run_id=item.runId,
            dry_run=bool(item.options.get("dryRun")) or is_sample_run(item.runId),
        ),
    )
    if report.throttled is not None:
        # Extensions that went through are recorded; the retried item finds them no longer extensible.
        raise report.throttled
    counts = {k: int(report.counts.get(k, 0)) for k in REPORTED}
    counts.update({k: int(v) for k, v in report.counts.items() if k not in counts})
    return WorkOutcome(counts=counts, warnings=report.warnings, notes=report.notes)


def _with_staging_servers(ctx: WorkContext) -> AccountRecord:
    """The target with only the staging accounts that may hold servers in the item's region (those whose
    region status has no row, no count, or a count above 0)."""
    store = RegionStatusStore(ctx.table(ctx.settings.region_status_table))
    rows = {s: store.get(s, ctx.item.region) for s in ctx.account.stagingAccounts}
    keep = [s for s, row in rows.items() if row is None or row.serverCount is None or row.serverCount > 0]
    return ctx.account.model_copy(update={"stagingAccounts": keep})
