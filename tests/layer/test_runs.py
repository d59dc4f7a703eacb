"""The sync lock, item results and summaries in the sync-state table."""

from fleet_sync.models import ItemResult
from fleet_sync.runs import acquire_lock, list_item_results, put_item_result, release_lock, summarize

A, B = "arn:aws:states:us-east-1:123456789012:execution:s-inventory-sync:a", "arn:...:execution:s-inventory-sync:b"


def test_a_second_run_is_refused_while_the_first_runs(tables):
    (state,) = tables("SyncStateTable")
    assert acquire_lock(state, "inventory", A, is_running=lambda arn: True)
    assert not acquire_lock(state, "inventory", B, is_running=lambda arn: arn == A)
    assert acquire_lock(state, "tags", B, is_running=lambda arn: True)  # locks are per sync


def test_a_lock_left_by_a_run_that_died_is_taken_over(tables):
    (state,) = tables("SyncStateTable")
    assert acquire_lock(state, "inventory", A, is_running=lambda arn: True)
    assert acquire_lock(state, "inventory", B, is_running=lambda arn: False)
    assert not release_lock(state, "inventory", A)  # the old holder can no longer release it
    assert release_lock(state, "inventory", B)
    assert acquire_lock(state, "inventory", A, is_running=lambda arn: True)


def test_an_expired_lease_is_taken_without_asking(tables):
    (state,) = tables("SyncStateTable")
    assert acquire_lock(state, "inventory", A, is_running=lambda arn: True, now=0)
    assert acquire_lock(state, "inventory", B, is_running=lambda arn: True, now=10**9)


def test_item_results_round_trip_and_summarize(tables):
    (state,) = tables("SyncStateTable")
    put_item_result(
        state,
        "run-1",
        ItemResult(
            accountId="111111111111",
            region="us-east-1",
            status="AVAILABLE",
            ok=True,
            serverCount=5,
            apiCalls={"DescribeSourceServers": 1},
            counts={"serversWritten": 5},
        ),
    )
    put_item_result(
        state,
        "run-1",
        ItemResult(
            accountId="222222222222",
            region="us-east-1",
            status="ACCESS_DENIED",
            ok=False,
            errorCode="AccessDeniedException",
            errorMessage="no",
        ),
    )
    # a worker that failed outright is recorded by the state machine's Catch with code and cause only
    state.put_item(
        Item={
            "pk": "run#run-1",
            "sk": "item#333333333333#eu-west-1",
            "accountId": "333333333333",
            "region": "eu-west-1",
            "errorCode": "RegionScanThrottled",
            "cause": '{"errorMessage": "still throttled", "errorType": "RegionScanThrottled"}',
        }
    )
    results = list_item_results(state, "run-1")
    assert {r.status for r in results} == {"AVAILABLE", "ACCESS_DENIED", "THROTTLED"}
    plan = {
        "decision": "filtered",
        "workItems": [{"accountId": r.accountId, "region": r.region} for r in results],
        "workItemCount": 3,
        "pairsTotal": 102,
        "pairsSkipped": 99,
    }
    s = summarize(
        sync="inventory", run_id="run-1", execution_arn=A, plan=plan, results=results, extra_counts=("serversWritten",)
    )
    assert s["outcome"] == "partial" and s["serversSynced"] == 5 and s["serversWritten"] == 5
    assert s["apiCalls"] == {"DescribeSourceServers": 1}
    assert [e["code"] for e in s["errors"]] == ["AccessDeniedException", "RegionScanThrottled"]
    assert s["errors"][1]["message"] == "still throttled"
