"""The task samples (events/task-*.json) are safe to invoke one by one on a deployed stack, as the README
invites (`sam remote invoke`): their run is named `sample-<sync>`, and a sample run takes no lock and records
no sync status, summary or region status; a staging worker in one only reports what it would extend.

Each sample is invoked through the sandbox's Lambda on a stack whose fleet registers the samples' account, so
the workers reach DRS and the tasks find real state to spoil: a finished inventory run (its status) and,
for the last test, a run holding the lock.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from api_support import TARGET, drs_writes, expect, open_sandbox, table_snapshot

from fleet_sync.run.models import is_sample_run

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted(p.name for p in EVENTS.glob("task-*.json"))
UNCHANGED_TABLES = ("region-status", "staging-extensions")


def function_of(sample: str) -> str:
    """task-recovery-instances-worker.json -> RecoveryInstancesWorkerFunction (the template's logical id)."""
    return "".join(w.title() for w in sample.removeprefix("task-").removesuffix(".json").split("-")) + "Function"


@pytest.fixture(scope="module")
def sb():
    with open_sandbox() as box:
        assert box.run_sync("inventory")["status"] == "SUCCEEDED"  # a last run the samples must not replace
        yield box


def invoke(sb, sample: str) -> tuple[str | None, Any]:
    out = sb.client("lambda").invoke(
        FunctionName=sb.function_name(function_of(sample)), Payload=(EVENTS / sample).read_bytes()
    )
    return out.get("FunctionError"), json.loads(out["Payload"].read())


def observed(sb) -> dict[str, Any]:
    """What a sample must leave as it was: every sync's status (its last run and its lock), the region status
    and the staging extensions."""
    tables = table_snapshot(sb)
    return {
        "status": {sync: expect(sb, "GET", f"/syncs/{sync}/status", 200) for sync in sb.syncs},
        **{name: tables[name] for name in UNCHANGED_TABLES},
    }


def test_every_task_sample_names_a_sample_run():
    assert len(SAMPLES) >= 9
    for sample in SAMPLES:
        event = json.loads((EVENTS / sample).read_text())
        run = event.get("run", event)
        run_id = run.get("runId", event.get("executionName"))
        assert run_id is None or is_sample_run(run_id), sample  # the cache invalidation names no run
        assert run_id is not None or sample == "task-invalidate-region-cache.json"


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_task_sample_changes_no_status_no_lock_and_no_region_status(sb, sample):
    before, writes = observed(sb), drs_writes(sb)
    error, out = invoke(sb, sample)
    assert error is None, out
    assert observed(sb) == before
    if sample != "task-tags-worker.json":  # the tag worker does its pair's work, as a scheduled run would
        assert drs_writes(sb) == writes


def sync_metric_records(sb) -> list[dict[str, Any]]:
    """The embedded-metric records FinishRunFunction logged with a sync dimension (not its cold start)."""
    return [r for r in sb.logs("FinishRunFunction") if "_aws" in r and "sync" in r]


def test_a_finish_sample_publishes_no_metric(sb):
    published = sync_metric_records(sb)
    assert published, "the fixture's real run published its metrics"  # what the sample must not add to
    assert invoke(sb, "task-finish-run.json")[0] is None
    assert sync_metric_records(sb) == published


def test_a_staging_worker_in_a_sample_run_only_reports_even_without_dry_run(sb):
    event = json.loads((EVENTS / "task-staging-worker.json").read_text())
    event["options"]["dryRun"] = False
    writes = drs_writes(sb)
    out = sb.client("lambda").invoke(FunctionName=sb.function_name("StagingWorkerFunction"), Payload=json.dumps(event))
    result = json.loads(out["Payload"].read())
    assert "FunctionError" not in out and result["accountId"] == TARGET and result["ok"], result
    assert result["counts"]["serversExtended"] == 0 and result["counts"]["serversToExtend"] > 0, result
    assert drs_writes(sb) == writes


def test_a_sample_neither_takes_nor_releases_a_held_lock_and_the_next_real_run_is_normal(sb):
    sb.set_faults([{"operation": "DescribeSourceServers", "latencyMs": 1500}])  # a run that takes a while
    held = sb.start_sync("inventory")
    deadline = time.monotonic() + 60
    while not expect(sb, "GET", "/syncs/inventory/status", 200)["lock"]:
        assert time.monotonic() < deadline, "the run never took the lock"
        time.sleep(0.05)
    assert expect(sb, "GET", "/syncs/inventory/status", 200)["lock"]["executionArn"] == held
    for sample in ("task-resolve-plan.json", "task-finish-run.json"):
        assert invoke(sb, sample)[0] is None
        assert expect(sb, "GET", "/syncs/inventory/status", 200)["lock"]["executionArn"] == held, sample
    sb.set_faults([])
    assert sb.wait(held)["status"] == "SUCCEEDED"
    last = expect(sb, "GET", "/syncs/inventory/status", 200)
    assert last["lock"] is None and last["lastRun"]["executionArn"] == held
    summary = sb.run_sync("inventory")
    assert summary["decision"] != "skipped" and not is_sample_run(summary["runId"])
