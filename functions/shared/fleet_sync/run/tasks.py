"""The tasks every sync's state machine shares: resolve the plan, summarize the run, update region status,
invalidate the region cache, finish. Each takes its event's model and the settings and returns its result's
model; the handlers in functions/<task>/app.py parse the one and dump the other."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from ..core import aws
from ..core.clock import parse_iso, utc_now
from ..core.errors import SyncBusy
from ..core.observability import logger, metrics
from ..core.regions import KNOWN_EMPTY, THROTTLED, drs_regions
from ..core.settings import Settings
from .accounts import AccountsStore
from .models import (
    MAX_WORK_ITEMS_IN_SUMMARY,
    CacheInvalidated,
    CaughtError,
    FinishEvent,
    InvalidateEvent,
    ItemResult,
    Pair,
    PlanRef,
    RegionStatusUpdate,
    ResolveEvent,
    RunEvent,
    RunRecord,
    SyncInput,
    is_sample_run,
    parse_sync_input,
)
from .plan import Plan, build_plan
from .region_status import RegionStatusStore, invalidate_region_cache, resolve_active_regions
from .registry import sync_spec
from .spec import SyncSpec
from .start import execution_runs
from .summary import Summary, TaskFailure, summarize
from .sync_state import SyncStateStore, item_expires_at

FALLBACK_DECISIONS = ("fallback_empty", "fallback_error")
MAX_CAUSE_CHARS = 1000
# DynamoDB answers an UpdateItem in 5-10 ms: 16 at a time write 10,000 pairs in about 5 s.
REGION_STATUS_WRITERS = 16
# A scoped run that meets the lock raises SyncBusy, which the first state's Retry repeats every 10 s up to
# this many times (statemachines/sync.asl.json): 15 minutes, the inventory's schedule. It then ends skipped.
LOCK_WAIT_ATTEMPTS = 90


# ------------------------------------------------------------------ Resolve the scan plan


def resolve_run(event: ResolveEvent, settings: Settings) -> RunRecord:
    """Validate the input, plan the (account, region) work items, take the lock, write the plan to S3.

    Nothing is written before the input is known to be good.
    """
    spec = sync_spec(event.sync)
    request = parse_sync_input(spec.input_model, event.sync, event.input)
    ddb = aws.dynamodb()
    state = SyncStateStore(ddb.Table(settings.sync_state_table))
    plan = _plan(spec, request, settings, ddb)
    run = RunRecord(
        sync=event.sync,
        runId=event.executionName,
        executionArn=event.executionArn,
        startTime=event.startTime,
        mode=request.mode or "scheduled",
        itemExpiresAt=item_expires_at(),
        options=request.model_dump(exclude={"accounts", "regions", "mode"}, exclude_none=True),
        decision="skipped",
    )
    sfn = aws.client("stepfunctions")
    # Every run writes under its sync's lock, a scoped one too (its starter usually took the lock for it);
    # a sample run writes nothing, so it takes none.
    if not is_sample_run(run.runId) and not state.acquire_lock(
        event.sync, event.executionArn, is_running=lambda arn: execution_runs(sfn, arn)
    ):
        if request.scoped and event.retryCount < LOCK_WAIT_ATTEMPTS:
            raise SyncBusy(
                f"another run of the {event.sync} sync holds its lock: this scoped run waits for it "
                f"(attempt {event.retryCount + 1} of {LOCK_WAIT_ATTEMPTS + 1}, the state machine's Retry)"
            )
        return run
    key = f"plans/{event.sync}/{event.executionName}.json"
    aws.client("s3").put_object(
        Bucket=settings.plan_bucket, Key=key, Body=json.dumps(plan.items).encode(), ContentType="application/json"
    )
    _log_plan(event.sync, plan)
    return run.model_copy(
        update={
            "decision": plan.decision,
            "plan": PlanRef(bucket=settings.plan_bucket, key=key),
            "workItemCount": len(plan.items),
            "workItems": [Pair.model_validate(i) for i in plan.items[:MAX_WORK_ITEMS_IN_SUMMARY]],
            "activeRegions": plan.active_regions,
            "regionsInScope": len(plan.regions),
            "regionsSkipped": plan.regions_skipped,
            "pairsTotal": plan.pairs_total,
            "pairsSkipped": plan.pairs_skipped,
        }
    )


def _plan(spec: SyncSpec, request: SyncInput, settings: Settings, ddb: Any) -> Plan:
    """The run's plan: a scoped run's one pair, or the pairs the region statuses call for."""
    registered = AccountsStore(ddb.Table(settings.accounts_table)).all()
    accounts = [a.accountId for a in spec.select_accounts(registered, request)]
    all_regions = drs_regions(settings.drs_regions)
    scoped = spec.scoped_plan(request, accounts, all_regions) if spec.scoped_plan else None
    if scoped is not None:
        return scoped
    active = resolve_active_regions(
        ddb.Table(settings.region_status_table),
        all_regions=all_regions,
        state_table=ddb.Table(settings.sync_state_table),
        cache_ttl=settings.region_cache_ttl_seconds,
        filtering=settings.region_filtering,
    )
    plan = build_plan(
        request=request,
        registered_accounts=accounts,
        all_regions=all_regions,
        statuses=spec.plan_statuses(active.statuses, registered),
        filtering=settings.region_filtering,
        discovery_age=timedelta(hours=settings.discovery_age_hours),
        now=utc_now(),
    )
    return plan


def _log_plan(sync: str, plan: Plan) -> None:
    logger.info(
        "plan resolved",
        extra={
            "sync": sync,
            "decision": plan.decision,
            "workItems": len(plan.items),
            "pairsTotal": plan.pairs_total,
            "pairsSkipped": plan.pairs_skipped,
            "regionsSkipped": plan.regions_skipped,
            "activeRegions": len(plan.active_regions),
        },
    )


# ------------------------------------------------------------------ Summarize the run


def build_summary(spec: SyncSpec, run: RunRecord, results: list[ItemResult]) -> Summary:
    """The sync's summary of a run: the common fields, its own counters, its own fields."""
    common = summarize(run, results)
    missing = run.workItemCount - len(results)
    if missing > 0:  # an item with no recorded result must not pass for a success
        common.itemsWithoutResult = missing
        common.outcome = "partial" if results else "failed"
    lifted = {name: common.counts.get(name, 0) for name in spec.summary_model.counters()}
    own = spec.summary_fields(common, results, run)
    summary = spec.summary_model.model_validate({**common.model_dump(), **lifted, **own})
    summary.durationMs = _elapsed_ms(run.startTime)
    return summary


def summarize_run(event: RunEvent, settings: Settings) -> Summary:
    """Read every item result of the run and build its summary."""
    results = SyncStateStore.of(settings).item_results(event.run.runId)
    return build_summary(sync_spec(event.run.sync), event.run, results)


def _elapsed_ms(start: str | None) -> int:
    began = parse_iso(start)
    return max(0, int((utc_now() - began).total_seconds() * 1000)) if began else 0


# ------------------------------------------------------------------ Update region status


def update_region_status(event: RunEvent, settings: Settings) -> RegionStatusUpdate:
    """Write each scanned pair's outcome. The inventory's are the pair's status, counts and discovery clock
    (errors keep the counts); every other sync's go to its own `<sync>Outcome` attribute of the pair, and a
    known-empty answer (every sync observes its 0) is the pair's status too.

    One UpdateItem per pair (never a whole-item write: it would drop the other syncs' outcomes), up to
    REGION_STATUS_WRITERS at once, so 10,000 pairs take seconds, not minutes."""
    if is_sample_run(event.run.runId):
        return RegionStatusUpdate(pairsUpdated=0)
    spec = sync_spec(event.run.sync)
    results = SyncStateStore(aws.table(settings.sync_state_table)).item_results(event.run.runId)

    def write(result: ItemResult) -> int:
        # aws.table is per thread: boto3 resources are not thread-safe
        return _record_result(spec, RegionStatusStore(aws.table(settings.region_status_table)), result)

    with ThreadPoolExecutor(max_workers=REGION_STATUS_WRITERS, thread_name_prefix="region-status") as pool:
        updated = sum(pool.map(write, results))
    return RegionStatusUpdate(pairsUpdated=updated)


def _record_result(spec: SyncSpec, statuses: RegionStatusStore, r: ItemResult) -> int:
    """Record one item's outcome; 1 when it changed the pair's row."""
    if not spec.observes_server_counts:
        code = None if r.ok else r.errorCode
        message = None if r.ok else (r.errorMessage or r.status)
        recorded = statuses.record_sync_outcome(
            spec.name, r.accountId, r.region, r.status, error_code=code, error_message=message
        )
        if r.status not in KNOWN_EMPTY:
            return int(recorded)
    elif r.ok and r.serverCount is None:
        return 0
    statuses.record(
        r.accountId,
        r.region,
        r.serverCount if r.ok else None,
        None if r.ok else (r.errorMessage or r.status),
        status=r.status,
        replicating_count=r.replicatingCount,
        error_code=r.errorCode,
    )
    return 1


# ------------------------------------------------------------------ Invalidate the region cache


def invalidate(event: InvalidateEvent, settings: Settings) -> CacheInvalidated:
    """Bump the generation stamp every container's region cache checks."""
    return CacheInvalidated(generation=invalidate_region_cache(aws.dynamodb().Table(settings.sync_state_table)))


# ------------------------------------------------------------------ Finish the run


def finish_run(event: FinishEvent, settings: Settings) -> Summary:
    """Store the summary and the sync's status, release the lock, publish metrics; return the summary.

    A shared task that failed before (its Catch names it in `failures`) is recorded in the summary's
    `taskFailures` and makes a complete run partial; without a summary (Summarize failed) the run is failed.
    """
    run, spec = event.run, sync_spec(event.run.sync)
    if is_sample_run(run.runId):  # the summary it would store, nothing stored
        return spec.summary_model.model_validate(event.summary) if event.summary else build_summary(spec, run, [])
    state = SyncStateStore.of(settings)
    if run.decision == "skipped":
        summary = build_summary(spec, run, [])
        summary.outcome = "skipped"
        state.put_summary(run.runId, summary.dump())
        _publish_metrics(summary, settings)
        return summary
    summary = _final_summary(spec, run, event)
    state.put_summary(run.runId, summary.dump())
    if run.decision != "scoped":  # a scoped run is not the sync's last full run
        state.put_sync_status(run.sync, summary.dump())
    state.release_lock(run.sync, run.executionArn)
    _publish_metrics(summary, settings, run.options.get("eventTime"))
    logged = ("sync", "decision", "outcome", "workItemCount", "pairsSkipped", "apiCallTotal", "errorCount")
    logger.info("sync finished", extra={**{k: getattr(summary, k) for k in logged}, "durationMs": summary.durationMs})
    return summary


def _final_summary(spec: SyncSpec, run: RunRecord, event: FinishEvent) -> Summary:
    if event.summary is None:  # Summarize failed: what the items did is not known here
        summary = build_summary(spec, run, [])
        summary.itemsWithoutResult = None
        summary.outcome = "failed"
    else:
        summary = spec.summary_model.model_validate(event.summary)
    summary.durationMs = _elapsed_ms(run.startTime)
    if event.failures:
        summary.taskFailures = [_task_failure(name, caught) for name, caught in event.failures.items()]
        if summary.outcome == "complete":
            summary.outcome = "partial"
        for failure in summary.taskFailures:
            logger.error("shared task failed", extra=failure.model_dump())
    return summary


def _task_failure(name: str, caught: CaughtError) -> TaskFailure:
    """The caught error with its message: a Lambda's cause is its error document (errorMessage, errorType)."""
    message = caught.Cause or ""
    try:
        document = json.loads(message)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("errorMessage"), str):
        message = document["errorMessage"]
    return TaskFailure(error=name, taskError=caught.Error, cause=f"{caught.Error}: {message}"[:MAX_CAUSE_CHARS])


def _publish_metrics(summary: Summary, settings: Settings, event_time: str | None = None) -> None:
    metrics.namespace = settings.metrics_namespace  # the environment's, whenever the module was imported
    metrics.add_dimension(name="sync", value=summary.sync)
    count, percent = MetricUnit.Count, MetricUnit.Percent
    reduction = round(100.0 * summary.pairsSkipped / summary.pairsTotal, 2) if summary.pairsTotal else 0.0
    # A full run with every planned pair scanned. None for a while means the sync's data is going stale: the
    # recovery-instance cache alarm (template.yaml) fires when no such run finished within its freshness window.
    complete = summary.outcome == "complete" and summary.decision not in ("skipped", "scoped")
    for name, unit, value in (
        ("ActiveRegionCount", count, len(summary.activeRegions)),
        ("RegionsSkipped", count, summary.regionsSkipped),
        ("WorkItems", count, summary.workItemCount),
        ("ApiCallReduction", percent, reduction),
        ("ApiCalls", count, summary.apiCallTotal),
        ("FallbackCount", count, int(summary.decision in FALLBACK_DECISIONS)),
        ("ServersSynced", count, summary.serversSynced),
        ("SyncErrors", count, summary.errorCount),
        ("ThrottledItems", count, summary.itemsByStatus.get(THROTTLED, 0)),
        ("SkippedRuns", count, int(summary.decision == "skipped")),
        ("CompleteRuns", count, int(complete)),
        ("SyncDuration", MetricUnit.Milliseconds, summary.durationMs),
    ):
        metrics.add_metric(name=name, unit=unit, value=value)
    happened = parse_iso(event_time) if event_time else None
    if happened is not None:  # a run a DRS event started: from the event to its data stored
        latency = max(0, int((utc_now() - happened).total_seconds() * 1000))
        metrics.add_metric(name="EventLatency", unit=MetricUnit.Milliseconds, value=latency)
