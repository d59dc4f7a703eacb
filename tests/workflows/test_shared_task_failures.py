"""A shared task that fails after its retries is caught and named: the run still finishes (its summary and
the sync's status record the failure, the lock is released, so the next run is not skipped) and the execution
then fails with the name, never with an unhandled task failure."""

import contextlib
import json

import pytest
from sync_contract import checked_summary

from sandbox import Sandbox, local_lambda

REGION = "us-east-1"
TARGET = "111111111111"
FLEET = {
    "seed": 5,
    "accounts": [{"accountId": TARGET, "kind": "target", "regions": {REGION: {"sourceServers": 3}}}],
}
PARAMETERS = {"DrsRegions": REGION}


class ServiceUnavailable(Exception):  # an error named as a Lambda task would report it
    pass


@contextlib.contextmanager
def failing(sb, logical_id):
    """The function's handler raises until the block ends (the container keeps the broken code)."""
    runtime = local_lambda.active()
    assert runtime is not None
    fn = runtime.lookup(sb.function_name(logical_id))
    assert fn is not None
    working = fn.load()

    def broken(event, context):
        raise ServiceUnavailable(f"{logical_id} is down")

    fn._fn = broken
    try:
        yield
    finally:
        fn._fn = working


def stored(sb, sync):
    state = {(i["pk"], i["sk"]): i for i in sb.items("sync-state")}
    status = state.get((f"status#{sync}", "status"))
    return state, (json.loads(status["summary"]) if status else None)


def run_failing(sb, logical_id):
    with failing(sb, logical_id):
        return sb.run_sync("inventory")


@pytest.mark.parametrize(
    ("logical_id", "error", "outcome"),
    [
        ("SummarizeRunFunction", "RunNotSummarized", "failed"),
        ("UpdateRegionStatusFunction", "RegionStatusNotUpdated", "partial"),
        ("InvalidateRegionCacheFunction", "RegionCacheNotInvalidated", "partial"),
    ],
)
def test_a_failed_shared_task_is_recorded_and_names_the_failed_execution(logical_id, error, outcome):
    with Sandbox(fleet=FLEET, parameters=PARAMETERS) as sb:
        failed = run_failing(sb, logical_id)
        assert failed["status"] == "FAILED" and failed["error"] == error, failed
        assert "ServiceUnavailable" in failed["cause"] and f"{logical_id} is down" in failed["cause"]
        state, summary = stored(sb, "inventory")
        assert ("lock#inventory", "lock") not in state  # Finish ran: the lock is released
        checked_summary(summary)
        assert summary["outcome"] == outcome and summary["executionArn"] == failed["executionArn"]
        assert summary["taskFailures"] == [
            {"error": error, "taskError": "ServiceUnavailable", "cause": f"ServiceUnavailable: {logical_id} is down"}
        ]
        # the next run is not skipped, and with the task back it completes without a recorded failure
        again = sb.run_sync("inventory")
        assert again["status"] == "SUCCEEDED" and again["outcome"] == "complete", again
        assert "taskFailures" not in again


def test_a_failed_summary_still_leaves_the_item_work_and_region_status_done():
    with Sandbox(fleet=FLEET, parameters=PARAMETERS) as sb:
        failed = run_failing(sb, "SummarizeRunFunction")
        assert failed["error"] == "RunNotSummarized"
        # the items ran and region status was recorded from their results
        assert [r["serverCount"] for r in sb.items("region-status") if r["accountId"] == TARGET] == [3]
        assert len(sb.items("inventory")) == 3


def test_a_region_status_table_gone_fails_the_run_by_name_after_it_finished():
    with Sandbox(fleet=FLEET, parameters=PARAMETERS) as sb:
        first = sb.run_sync("inventory")
        assert first["outcome"] == "complete"
        sb.client("dynamodb").delete_table(TableName=sb.table_name("region-status"))
        failed = sb.run_sync("inventory")
        assert failed["status"] == "FAILED" and failed["error"] == "RegionStatusNotUpdated", failed
        assert "ResourceNotFoundException" in failed["cause"]
        state, summary = stored(sb, "inventory")
        assert ("lock#inventory", "lock") not in state
        assert summary["executionArn"] == failed["executionArn"] and summary["outcome"] == "partial"
        assert summary["serversSynced"] == 3  # the items' own work was done and summarized


def test_a_failed_finish_is_named_and_the_next_run_takes_the_lock_over():
    with Sandbox(fleet=FLEET, parameters=PARAMETERS) as sb:
        failed = run_failing(sb, "FinishRunFunction")
        assert failed["status"] == "FAILED" and failed["error"] == "RunNotFinished", failed
        assert "FinishRunFunction is down" in failed["cause"]
        state, summary = stored(sb, "inventory")
        assert state[("lock#inventory", "lock")]["executionArn"] == failed["executionArn"] and summary is None
        again = sb.run_sync("inventory")  # the holder no longer runs: its lock is taken over
        assert again["status"] == "SUCCEEDED" and again["decision"] != "skipped" and again["outcome"] == "complete"


def test_a_failed_plan_is_named_and_takes_nothing():
    with Sandbox(fleet=FLEET, parameters=PARAMETERS) as sb:
        failed = run_failing(sb, "ResolvePlanFunction")
        assert failed["status"] == "FAILED" and failed["error"] == "RunNotPlanned", failed
        assert "ResolvePlanFunction is down" in failed["cause"]
        state, summary = stored(sb, "inventory")
        assert ("lock#inventory", "lock") not in state and summary is None
        bad = sb.run_sync("inventory", {"regions": "not a list"})
        assert bad["status"] == "FAILED" and bad["error"] == "InvalidSyncInput", bad
