"""The sync lock, item results and summaries in the sync-state table."""

from fleet_sync.run.models import ItemResult, Pair, RunRecord
from fleet_sync.run.sync_state import SyncStateStore
from fleet_sync.run.tasks import build_summary
from fleet_sync.syncs.inventory.spec import SPEC as INVENTORY

A, B = "arn:aws:states:us-east-1:123456789012:execution:s-inventory-sync:a", "arn:...:execution:s-inventory-sync:b"


def test_a_second_run_is_refused_while_the_first_runs(tables):
    (table,) = tables("SyncStateTable")
    state = SyncStateStore(table)
    assert state.acquire_lock("inventory", A, is_running=lambda arn: True)
    assert not state.acquire_lock("inventory", B, is_running=lambda arn: arn == A)
    assert state.acquire_lock("tags", B, is_running=lambda arn: True)  # locks are per sync


def test_a_lock_left_by_a_run_that_died_is_taken_over(tables):
    (table,) = tables("SyncStateTable")
    state = SyncStateStore(table)
    assert state.acquire_lock("inventory", A, is_running=lambda arn: True)
    assert state.acquire_lock("inventory", B, is_running=lambda arn: False)
    assert not state.release_lock("inventory", A)  # the old holder can no longer release it
    assert state.release_lock("inventory", B)
    assert state.acquire_lock("inventory", A, is_running=lambda arn: True)


def test_an_expired_lease_of_a_running_holder_is_not_taken_over(tables):
    (table,) = tables("SyncStateTable")
    state = SyncStateStore(table)
    assert state.acquire_lock("inventory", A, is_running=lambda arn: True, now=0)
    asked: list[str] = []

    def running(arn: str) -> bool:
        asked.append(arn)
        return True

    assert not state.acquire_lock("inventory", B, is_running=running, now=10**9)
    assert asked == [A]  # the holder's execution was asked about, not its lease
    assert (state.lock("inventory") or {}).get("executionArn") == A
    assert state.acquire_lock("inventory", B, is_running=lambda arn: False, now=10**9)


def test_a_lock_taken_for_an_execution_being_started_is_held_for_its_grace_only(tables):
    from fleet_sync.run.sync_state import START_GRACE_SECONDS

    (table,) = tables("SyncStateTable")
    state = SyncStateStore(table)
    assert state.acquire_lock("recovery-instances", A, is_running=lambda arn: None, now=1000, starting=True)
    # A does not exist yet (its StartExecution is on its way): the lock is A's during the grace
    assert not state.acquire_lock("recovery-instances", B, is_running=lambda arn: None, now=1000 + START_GRACE_SECONDS)
    # A never started: after the grace the lock is taken over
    assert state.acquire_lock("recovery-instances", B, is_running=lambda arn: None, now=1001 + START_GRACE_SECONDS)
    # a started holder that has ended is taken over at once, grace or not
    assert state.acquire_lock("tags", A, is_running=lambda arn: None, now=1000, starting=True)
    assert state.acquire_lock("tags", B, is_running=lambda arn: False, now=1001)
    # A's own first state takes the lock it was given, and the grace ends with it
    assert state.acquire_lock("inventory", A, is_running=lambda arn: None, now=1000, starting=True)
    assert state.acquire_lock("inventory", A, is_running=lambda arn: True, now=1001)
    assert "startingUntil" not in (state.lock("inventory") or {})


def test_item_results_round_trip_and_summarize(tables):
    (table,) = tables("SyncStateTable")
    state = SyncStateStore(table)
    state.put_item_result(
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
    state.put_item_result(
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
    table.put_item(
        Item={
            "pk": "run#run-1",
            "sk": "item#333333333333#eu-west-1",
            "accountId": "333333333333",
            "region": "eu-west-1",
            "errorCode": "RegionScanThrottled",
            "cause": '{"errorMessage": "still throttled", "errorType": "RegionScanThrottled"}',
        }
    )
    results = state.item_results("run-1")
    assert {r.status for r in results} == {"AVAILABLE", "ACCESS_DENIED", "THROTTLED"}
    run = RunRecord(
        sync="inventory",
        runId="run-1",
        executionArn=A,
        decision="filtered",
        workItems=[Pair(accountId=r.accountId, region=r.region) for r in results],
        workItemCount=3,
        pairsTotal=102,
        pairsSkipped=99,
    )
    s = build_summary(INVENTORY, run, results).dump()
    assert s["outcome"] == "partial" and s["serversSynced"] == 5 and s["serversWritten"] == 5
    assert s["apiCalls"] == {"DescribeSourceServers": 1}
    assert [e["code"] for e in s["errors"]] == ["AccessDeniedException", "RegionScanThrottled"]
    assert s["errors"][1]["message"] == "still throttled"


def test_a_planned_item_without_a_result_makes_the_run_partial(tables):
    (table,) = tables("SyncStateTable")
    state = SyncStateStore(table)
    ok = ItemResult(accountId="111111111111", region="us-east-1", status="AVAILABLE", ok=True, serverCount=2)
    state.put_item_result("run-2", ok)
    run = RunRecord(sync="inventory", runId="run-2", executionArn=A, decision="filtered", workItemCount=2)
    s = build_summary(INVENTORY, run, state.item_results("run-2"))
    assert s.itemsWithoutResult == 1 and s.outcome == "partial" and s.serversSynced == 2
    complete = build_summary(INVENTORY, run.model_copy(update={"workItemCount": 1}), [ok])
    assert complete.outcome == "complete" and "itemsWithoutResult" not in complete.dump()


def test_an_invocation_holds_the_lock_for_its_lease_only(tables):
    (table,) = tables("SyncStateTable")
    state = SyncStateStore(table)
    assert state.try_lock_for_invocation("inventory", "r1", now=0)
    assert not state.acquire_lock("inventory", A, is_running=lambda arn: False, now=10)  # not an execution
    assert not state.try_lock_for_invocation("inventory", "r2", now=10)
    assert state.acquire_lock("inventory", A, is_running=lambda arn: False, now=10**4)  # its lease is over
    assert not state.try_lock_for_invocation("inventory", "r2", now=10**4)  # a run holds it now
