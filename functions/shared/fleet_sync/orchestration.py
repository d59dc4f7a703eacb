"""The steps every sync's state machine shares: resolve the plan, summarize, update region status,
finish. Each takes the state's event and the settings, and returns what the next state needs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from . import aws
from .accounts import list_accounts
from .errors import InvalidSyncInput
from .models import MAX_WORK_ITEMS_IN_SUMMARY, parse_sync_input
from .observability import logger, metrics
from .plan import build_plan
from .regions import drs_regions, parse_iso, resolve_active_regions, update_region_status, utc_now
from .runs import (
    acquire_lock,
    list_item_results,
    put_summary,
    put_sync_status,
    release_lock,
    summarize,
)
from .settings import Settings
from .syncs import sync_spec

FALLBACK_DECISIONS = ("fallback_empty", "fallback_error")


class ResolveEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sync: str
    input: Any = None
    executionArn: str = Field(min_length=1)
    executionName: str = Field(min_length=1)
    startTime: str | None = None


def resolve_run(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Validate the input, plan the (account, region) work items, take the lock, write the plan to S3.

    Nothing is written before the input is known to be good.
    """
    ev = ResolveEvent.model_validate(event)
    spec = sync_spec(ev.sync)
    request = parse_sync_input(spec.input_model, ev.sync, ev.input)
    ddb = aws.dynamodb()
    state_table = ddb.Table(settings.sync_state_table)
    registered = list_accounts(ddb.Table(settings.accounts_table))
    accounts = spec.select_accounts(registered, request)
    all_regions = drs_regions(settings.drs_regions)
    active = resolve_active_regions(
        ddb.Table(settings.region_status_table),
        all_regions=all_regions,
        state_table=state_table,
        cache_ttl=settings.region_cache_ttl_seconds,
        filtering=settings.region_filtering,
    )
    scoped = spec.scoped_plan(request, [a.accountId for a in accounts], all_regions) if spec.scoped_plan else None
    plan = scoped or build_plan(
        request=request,
        registered_accounts=[a.accountId for a in accounts],
        all_regions=all_regions,
        statuses=spec.plan_statuses(active.statuses, registered),
        filtering=settings.region_filtering,
        discovery_age=timedelta(hours=settings.discovery_age_hours),
        now=utc_now(),
    )
    run: dict[str, Any] = {
        "sync": ev.sync,
        "runId": ev.executionName,
        "executionArn": ev.executionArn,
        "startTime": ev.startTime,
        "mode": request.mode or "scheduled",
        "options": request.model_dump(exclude={"accounts", "regions", "mode"}, exclude_none=True),
    }
    sfn = aws.client("stepfunctions")
    # A scoped run (one pair after a wave completes) runs alongside the scheduled runs: it takes no lock.
    if scoped is None and not acquire_lock(
        state_table, ev.sync, ev.executionArn, is_running=lambda arn: _is_running(sfn, arn)
    ):
        return {**run, "decision": "skipped", "workItemCount": 0, "workItems": [], "plan": None}
    key = f"plans/{ev.sync}/{ev.executionName}.json"
    aws.client("s3").put_object(
        Bucket=settings.plan_bucket, Key=key, Body=json.dumps(plan.items).encode(), ContentType="application/json"
    )
    logger.info(
        "plan resolved",
        extra={
            "sync": ev.sync,
            "decision": plan.decision,
            "workItems": len(plan.items),
            "pairsTotal": plan.pairs_total,
            "pairsSkipped": plan.pairs_skipped,
            "regionsSkipped": plan.regions_skipped,
            "activeRegions": len(plan.active_regions),
        },
    )
    return {
        **run,
        "decision": plan.decision,
        "plan": {"bucket": settings.plan_bucket, "key": key},
        "workItemCount": len(plan.items),
        "workItems": plan.items[:MAX_WORK_ITEMS_IN_SUMMARY],
        "activeRegions": plan.active_regions,
        "regionsInScope": len(plan.regions),
        "regionsSkipped": plan.regions_skipped,
        "pairsTotal": plan.pairs_total,
        "pairsSkipped": plan.pairs_skipped,
    }


def _is_running(sfn: Any, execution_arn: str) -> bool:
    try:
        return sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    except sfn.exceptions.ExecutionDoesNotExist:
        return False


def _run(event: dict[str, Any]) -> dict[str, Any]:
    run = event.get("run")
    if not isinstance(run, dict) or not run.get("runId") or not run.get("sync"):
        raise InvalidSyncInput("event.run with sync and runId is required")
    return run


def aggregate_run(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Read every item result of the run and build its summary."""
    run = _run(event)
    spec = sync_spec(run["sync"])
    table = aws.dynamodb().Table(settings.sync_state_table)
    results = list_item_results(table, run["runId"])
    summary = summarize(
        sync=run["sync"],
        run_id=run["runId"],
        execution_arn=run["executionArn"],
        plan=run,
        results=results,
        extra_counts=spec.summary_counts,
    )
    missing = run.get("workItemCount", 0) - len(results)
    if missing > 0:  # an item with no recorded result must not pass for a success
        summary["itemsWithoutResult"] = missing
        summary["outcome"] = "partial" if results else "failed"
    summary = spec.refine_summary(summary, results, run)
    summary["durationMs"] = _elapsed_ms(run.get("startTime"))
    return summary


def _elapsed_ms(start: str | None) -> int:
    began = parse_iso(start)
    return max(0, int((utc_now() - began).total_seconds() * 1000)) if began else 0


def record_region_status(event: dict[str, Any], settings: Settings) -> dict[str, int]:
    """Write each scanned pair's outcome. Counts only where the sync observed them; errors keep the counts."""
    run = _run(event)
    spec = sync_spec(run["sync"])
    ddb = aws.dynamodb()
    results = list_item_results(ddb.Table(settings.sync_state_table), run["runId"])
    status_table = ddb.Table(settings.region_status_table)
    updated = 0
    for r in results:
        if r.ok and not (spec.observes_server_counts and r.serverCount is not None):
            continue
        update_region_status(
            r.accountId,
            r.region,
            r.serverCount if r.ok else None,
            None if r.ok else (r.errorMessage or r.status),
            table=status_table,
            status=r.status,
            replicating_count=r.replicatingCount,
            error_code=r.errorCode,
        )
        updated += 1
    return {"pairsUpdated": updated}


def finish_run(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Store the summary and the sync's status, release the lock, publish metrics; return the summary."""
    run = _run(event)
    table = aws.dynamodb().Table(settings.sync_state_table)
    summary = event.get("summary")
    if run.get("decision") == "skipped" or not summary:
        summary = summarize(
            sync=run["sync"],
            run_id=run["runId"],
            execution_arn=run["executionArn"],
            plan=run,
            results=[],
            extra_counts=sync_spec(run["sync"]).summary_counts,
        )
        summary = sync_spec(run["sync"]).refine_summary(summary, [], run)
        summary["durationMs"] = _elapsed_ms(run.get("startTime"))
        summary["outcome"] = "skipped"
        put_summary(table, run["runId"], summary)
        _publish_metrics(summary, settings)
        return summary
    summary["durationMs"] = _elapsed_ms(run.get("startTime"))
    put_summary(table, run["runId"], summary)
    if run.get("decision") != "scoped":  # a scoped run is not the sync's last full run and holds no lock
        put_sync_status(table, run["sync"], summary)
        release_lock(table, run["sync"], run["executionArn"])
    _publish_metrics(summary, settings)
    logger.info(
        "sync finished",
        extra={
            k: summary.get(k)
            for k in (
                "sync",
                "decision",
                "outcome",
                "workItemCount",
                "pairsSkipped",
                "apiCallTotal",
                "errorCount",
                "durationMs",
            )
        },
    )
    return summary


def _publish_metrics(summary: dict[str, Any], settings: Settings) -> None:
    metrics.namespace = settings.metrics_namespace  # the environment's, whenever the module was imported
    metrics.add_dimension(name="sync", value=summary["sync"])
    pairs_total = summary.get("pairsTotal") or 0
    metrics.add_metric(name="ActiveRegionCount", unit=MetricUnit.Count, value=len(summary.get("activeRegions", [])))
    metrics.add_metric(name="RegionsSkipped", unit=MetricUnit.Count, value=summary.get("regionsSkipped", 0))
    metrics.add_metric(name="WorkItems", unit=MetricUnit.Count, value=summary.get("workItemCount", 0))
    metrics.add_metric(
        name="ApiCallReduction",
        unit=MetricUnit.Percent,
        value=round(100.0 * summary.get("pairsSkipped", 0) / pairs_total, 2) if pairs_total else 0.0,
    )
    metrics.add_metric(name="ApiCalls", unit=MetricUnit.Count, value=summary.get("apiCallTotal", 0))
    metrics.add_metric(
        name="FallbackCount", unit=MetricUnit.Count, value=int(summary.get("decision") in FALLBACK_DECISIONS)
    )
    metrics.add_metric(name="ServersSynced", unit=MetricUnit.Count, value=summary.get("serversSynced", 0))
    metrics.add_metric(name="SyncErrors", unit=MetricUnit.Count, value=summary.get("errorCount", 0))
    metrics.add_metric(
        name="ThrottledItems", unit=MetricUnit.Count, value=summary.get("itemsByStatus", {}).get("THROTTLED", 0)
    )
    metrics.add_metric(name="SkippedRuns", unit=MetricUnit.Count, value=int(summary.get("decision") == "skipped"))
    # A full run with every planned pair scanned. None for a while means the sync's data is going stale: the
    # recovery-instance cache alarm (template.yaml) fires when no such run finished within its freshness window.
    complete = summary.get("outcome") == "complete" and summary.get("decision") not in ("skipped", "scoped")
    metrics.add_metric(name="CompleteRuns", unit=MetricUnit.Count, value=int(complete))
    metrics.add_metric(name="SyncDuration", unit=MetricUnit.Milliseconds, value=summary.get("durationMs", 0))
