"""The staging sync's work on one (target account, active region): auto-extend its staging servers.

The target's role is assumed once (by the worker frame); the run's execution is recorded with every
extension for audit.
"""

from __future__ import annotations

from ...core.tables import STAGING_EXTENSIONS
from ...run.worker import WorkContext, WorkOutcome
from .extend import ExtendRun, auto_extend_staging_servers
from .store import ExtensionStore

REPORTED = ("serversExtended", "serversFailed", "serversDeferred", "serversAlreadyExtended", "serversToExtend")


def work(ctx: WorkContext) -> WorkOutcome:
    item = ctx.item
    report = auto_extend_staging_servers(
        ctx.account,
        [item.region],
        drs_for=lambda region: ctx.client("drs", region=region),
        store=ExtensionStore(ctx.product_table(STAGING_EXTENSIONS)),
        run=ExtendRun(
            execution_arn=item.executionArn or item.runId,
            run_id=item.runId,
            dry_run=bool(item.options.get("dryRun")),
        ),
    )
    if report.throttled is not None:
        # Extensions that went through are recorded; the retried item finds them no longer extensible.
        raise report.throttled
    counts = {k: int(report.counts.get(k, 0)) for k in REPORTED}
    counts.update({k: int(v) for k, v in report.counts.items() if k not in counts})
    return WorkOutcome(counts=counts, warnings=report.warnings, notes=report.notes)
