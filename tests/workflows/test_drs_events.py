"""DRS events end to end on the sandbox: the simulator emits them, each fleet account's forwarding rule sends
them to the hub's bus (its role and the bus policy checked), the hub's rule invokes the event task, and the
scoped runs it starts are the real state machines. Time is the sandbox clock: `sb.advance` delivers."""

import time

import pytest

from sandbox import Sandbox
from sandbox.drs import events

A, DISABLED, UNREGISTERED = "111111111111", "222222222222", "444444444444"
STORM = 1000  # the storm: 1,000 events for one pair within a minute
REGIONS = ["eu-west-1", "us-east-1", "us-west-2"]
PARAMETERS = {"DrsRegions": ",".join(REGIONS), "EventSourceAccountIds": f"{A},{DISABLED},{UNREGISTERED}"}
FLEET = {
    "seed": 5,
    "accounts": [
        {"accountId": A, "regions": {"us-east-1": {"sourceServers": 6, "recoveryInstances": 3, "ec2Backed": 1.0}}},
        {"accountId": DISABLED, "enabled": False, "regions": {"us-east-1": {"sourceServers": 2}}},
        {"accountId": UNREGISTERED, "registered": False, "regions": {"us-east-1": {"sourceServers": 2}}},
    ],
}


@pytest.fixture(scope="module")
def sb():
    with Sandbox(fleet=FLEET, parameters=PARAMETERS) as s:
        s.run_sync("inventory")
        s.run_sync("recovery-instances")
        yield s


def executions(sb, sync):
    sfn = sb.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=sb.state_machine_arn(sync))["executions"]


def event_runs(sb, sync, account, region):
    return [e for e in executions(sb, sync) if e["name"].startswith(f"{sync}-event-{account}-{region}-")]


def task_results(sb, since):
    return [d.result for d in sb.eventbridge.deliveries[since:] if d.kind == "invoked"]


def pair_rows(sb, account, region):
    return [r for r in sb.items("inventory") if r["accountRegion"] == f"{account}#{region}"]


def status_of(sb, account, region):
    rows = [r for r in sb.items("region-status") if r["accountId"] == account and r["region"] == region]
    return rows[0] if rows else None


def test_servers_in_a_region_never_used_are_inventoried_within_a_minute(sb):
    assert status_of(sb, A, "eu-west-1")["serverCount"] == 0  # scanned and known empty before
    firings_before = len(sb.scheduler.firings)
    ids = sb.add_source_servers(A, "eu-west-1", 4)
    sb.advance(60)
    assert sorted(r["sourceServerID"] for r in pair_rows(sb, A, "eu-west-1")) == sorted(ids)
    status = status_of(sb, A, "eu-west-1")
    assert status["serverCount"] == 4 and status["status"] == "AVAILABLE"
    # no discovery run and no scheduled run: one scoped run of the pair did it
    assert len(sb.scheduler.firings) == firings_before
    [run] = event_runs(sb, "inventory", A, "eu-west-1")
    assert run["status"] == "SUCCEEDED"
    out = sb.wait(run["executionArn"])
    assert '"decision": "scoped"' in out["output"] and '"workItemCount": 1' in out["output"]


def test_a_storm_of_events_for_one_pair_starts_one_execution(sb):
    since = len(sb.eventbridge.deliveries)
    region = "us-west-2"
    for n in range(STORM):  # within one minute
        record = events.api_call("CreateSourceServerForDrs", A, region, {"sourceServerID": f"s-{n:017d}"})
        sb.engine.emit(A, region, record, n * 50 / STORM)
    started = time.monotonic()
    sb.advance(60)
    results = task_results(sb, since)
    assert len(results) == STORM, time.monotonic() - started
    assert sum(1 for r in results if r.get("started")) == 1
    assert sum(1 for r in results if r.get("debounced") == ["inventory"]) == STORM - 1
    assert len(event_runs(sb, "inventory", A, region)) == 1
    # the window closes: the next event starts the next run
    sb.advance(30)
    sb.engine.emit(A, region, events.api_call("InitializeService", A, region, None), 0)
    sb.advance(30)
    assert len(event_runs(sb, "inventory", A, region)) == 2


@pytest.mark.parametrize("account", [DISABLED, UNREGISTERED])
def test_events_of_unregistered_or_disabled_accounts_are_rejected_and_write_nothing(sb, account):
    since = len(sb.eventbridge.deliveries)
    sb.add_source_servers(account, "us-west-2", 2)
    sb.advance(60)
    results = task_results(sb, since)
    assert len(results) == 2
    assert all(r["outcome"] == "rejected" and account in r["reason"] for r in results)
    assert status_of(sb, account, "us-west-2") is None
    assert pair_rows(sb, account, "us-west-2") == []
    assert event_runs(sb, "inventory", account, "us-west-2") == []
    assert not [i for i in sb.items("sync-state") if i["pk"].startswith(f"event#{account}#")]


def test_a_refused_api_call_is_delivered_but_starts_nothing(sb):
    since = len(sb.eventbridge.deliveries)
    drs = sb.client("drs", account=A, region="us-east-1")
    with pytest.raises(drs.exceptions.ClientError):
        drs.delete_source_server(sourceServerID="s-00000000000000000")
    sb.advance(30)
    [result] = task_results(sb, since)
    assert result["outcome"] == "ignored" and result["eventName"] == "DeleteSourceServer"


def test_a_terminate_event_refreshes_the_pairs_recovery_instance_cache(sb):
    before = {r["sourceServerID"]: r for r in sb.items("recovery-instances")}
    assert before
    drs = sb.client("drs", account=A, region="us-east-1")
    [victim] = [r["recoveryInstanceID"] for r in before.values()][:1]
    drs.terminate_recovery_instances(recoveryInstanceIDs=[victim])
    sb.advance(60)
    [run] = event_runs(sb, "recovery-instances", A, "us-east-1")
    assert run["status"] == "SUCCEEDED", sb.client("stepfunctions").describe_execution(executionArn=run["executionArn"])
    after = {r["sourceServerID"]: r for r in sb.items("recovery-instances")}
    refreshed = [s for s, r in after.items() if r["lastSyncTime"] > before[s]["lastSyncTime"]]
    assert sorted(refreshed) == sorted(after)  # every row of the pair was read again from DRS
    assert len(event_runs(sb, "inventory", A, "us-east-1")) == 1  # the inventory was asked for too


def test_a_replication_stall_reaches_the_inventory(sb):
    sb.advance(60)  # the pair's window of the test before has closed
    runs_before = len(event_runs(sb, "inventory", A, "us-east-1"))
    server = next(r for r in pair_rows(sb, A, "us-east-1") if r["replicationState"] != "STALLED")
    sb.engine.stall_replication(A, "us-east-1", [server["sourceServerID"]])
    sb.advance(30)
    assert len(event_runs(sb, "inventory", A, "us-east-1")) == runs_before + 1
    [row] = [r for r in pair_rows(sb, A, "us-east-1") if r["sourceServerID"] == server["sourceServerID"]]
    assert row["replicationState"] == "STALLED"


def test_an_event_run_publishes_its_latency_from_the_event(sb):
    sb.advance(60)  # every window of the tests before has closed
    sb.engine.emit(A, "eu-west-1", events.api_call("InitializeService", A, "eu-west-1", None), 15)
    sb.advance(60)
    metrics = [r for r in sb.logs("FinishRunFunction") if "EventLatency" in r]
    assert metrics, "no FinishRun of an event's inventory run published EventLatency"
    values = [
        v for m in metrics for v in (m["EventLatency"] if isinstance(m["EventLatency"], list) else [m["EventLatency"]])
    ]
    assert values and all(0 <= v <= 60_000 for v in values)  # EMF: one value, or a list of them
