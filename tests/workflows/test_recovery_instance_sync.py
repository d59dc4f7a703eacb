"""The recovery-instance cache end to end on the sandbox: the real template, ASL and handlers, moto (DynamoDB,
EC2, STS, Step Functions) and the DRS simulator. Sync, scoped wave run, cache queries, terminate."""

import copy
import time
from collections import Counter

import boto3
import pytest
from sync_contract import checked_summary

from fleet_sync.core.aws import ApiCallCounter
from fleet_sync.syncs.recovery_instances.drs import EXECUTION_ID_TAG, PLAN_NAME_TAG
from fleet_sync.syncs.recovery_instances.queries import check_existing_recovery_instances
from fleet_sync.syncs.recovery_instances.rows import REQUIRED_FIELDS
from fleet_sync.syncs.recovery_instances.status import clear_status_cache, get_recovery_instance_sync_status
from fleet_sync.syncs.recovery_instances.terminate import terminate_recovery_instances
from sandbox import Sandbox
from sandbox.drs.jobs import JOB_SECONDS

A, B, STAGING = "111111111111", "222222222222", "333333333333"
REGIONS = ["eu-west-1", "us-east-1", "us-west-2"]
PARAMETERS = {"DrsRegions": ",".join(REGIONS)}
FLEET = {
    "seed": 11,
    "accounts": [
        {
            "accountId": A,
            "name": "prod-dr",
            "kind": "target",
            "externalId": "ext-prod",
            "stagingAccounts": [STAGING],
            "regions": {
                "us-east-1": {"sourceServers": 20, "recoveryInstances": 8, "ec2Backed": 1.0},
                # cross-region DR: the source machines run in us-east-1, DRS and the recovery instances in us-west-2
                "us-west-2": {
                    "sourceServers": 6,
                    "recoveryInstances": 2,
                    "ec2Backed": 1.0,
                    "originRegion": "us-east-1",
                },
            },
        },
        {
            "accountId": B,
            "name": "analytics-dr",
            "kind": "target",
            "regions": {
                "eu-west-1": {"sourceServers": 6, "recoveryInstances": 3, "ec2Backed": 0.5},
                "us-east-1": {"sourceServers": 3},
            },
        },
        {"accountId": STAGING, "kind": "staging", "regions": {"us-east-1": {"sourceServers": 5}}},
    ],
}
WITH_INSTANCES = {(A, "us-east-1"): 8, (A, "us-west-2"): 2, (B, "eu-west-1"): 3}


@pytest.fixture()
def sb():
    clear_status_cache()
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters=PARAMETERS) as box:
        yield box
    clear_status_cache()


def rows(sb):
    return {r["sourceServerID"]: r for r in sb.items("recovery-instances")}


def by_pair(rs):
    return Counter((r["accountId"], r["region"]) for r in rs.values())


def drs_truth(sb, pairs):
    """(account, region) -> {sourceServerID: recoveryInstanceID} straight from the simulator."""
    out = {}
    for account, region in pairs:
        drs = sb.client("drs", account=account, region=region)
        items = [i for p in drs.get_paginator("describe_recovery_instances").paginate(filters={}) for i in p["items"]]
        out[(account, region)] = {i["sourceServerID"]: i["recoveryInstanceID"] for i in items}
    return out


def summary_of_arn(sb, execution_arn):
    from sandbox.executions import summary_of

    desc = sb.wait(execution_arn)
    return summary_of(sb.sync_name("recovery-instances"), desc)


def drs_calls(sb, operation):
    return Counter(
        {(c["accountId"], c["region"]): c["calls"] for c in sb.drs_calls()["calls"] if c["operation"] == operation}
    )


def source_servers(sb, account, region):
    drs = sb.client("drs", account=account, region=region)
    return [s for p in drs.get_paginator("describe_source_servers").paginate(filters={}) for s in p["items"]]


def jobs_done(sb, job_type="LAUNCH"):
    """Move the sandbox clock past a job's duration: DRS jobs are asynchronous."""
    sb.clock.advance(JOB_SECONDS[job_type])  # the job's time only: no schedule fires meanwhile


def launch(sb, account, region, server_ids, tags=None, drill=True):
    drs = sb.client("drs", account=account, region=region)
    job = drs.start_recovery(sourceServers=[{"sourceServerID": s} for s in server_ids], isDrill=drill, tags=tags or {})
    jobs_done(sb)
    return job["job"]["jobID"]


def terminate_outside(sb, account, region, recovery_instance_ids):
    """Someone terminates instances in DRS directly, and the job finishes."""
    sb.client("drs", account=account, region=region).terminate_recovery_instances(
        recoveryInstanceIDs=recovery_instance_ids
    )
    jobs_done(sb, "TERMINATE")


def without_instance(sb, account, region, n):
    servers = source_servers(sb, account, region)
    free = [
        s["sourceServerID"]
        for s in servers
        if not s.get("recoveryInstanceId") and s["dataReplicationInfo"]["dataReplicationState"] != "DISCONNECTED"
    ]
    assert len(free) >= n
    return free[:n]


# ------------------------------------------------------------------ the scheduled sync


def test_sync_fills_the_cache_across_accounts_in_batched_calls(sb):
    summary = sb.run_sync("recovery-instances")
    calls = {op: drs_calls(sb, op) for op in ("DescribeRecoveryInstances", "DescribeSourceServers", "DescribeJobs")}
    assert summary["status"] == "SUCCEEDED" and summary["outcome"] == "complete"
    # the plan covers target accounts only (the staging account launches no recovery instances)
    planned = {(w["accountId"], w["region"]) for w in summary["workItems"]}
    assert planned == {(a, r) for a in (A, B) for r in REGIONS}
    assert summary["instancesUpdated"] == 13 and summary["instancesRemoved"] == 0
    assert summary["serversSynced"] == 0 and summary["counts"]["instancesSeen"] == 13  # instances, not servers
    checked_summary(summary)
    assert summary["counts"]["instancesNew"] == 13
    cached = rows(sb)
    assert by_pair(cached) == WITH_INSTANCES
    truth = drs_truth(sb, WITH_INSTANCES)
    for (account, region), instances in truth.items():
        for server_id, recovery_id in instances.items():
            row = cached[server_id]
            assert (row["accountId"], row["region"], row["recoveryInstanceID"]) == (account, region, recovery_id)
            assert row["accountRegion"] == f"{account}#{region}"
    assert all(not [f for f in REQUIRED_FIELDS if f not in r] for r in cached.values())

    # EC2 details come from each recovery account's own EC2 (two accounts, three regions)
    for (account, region), instances in truth.items():
        ec2 = sb.client("ec2", account=account, region=region)
        reservations = ec2.describe_instances(InstanceIds=list(instances.values()))["Reservations"]
        for inst in (i for r in reservations for i in r["Instances"]):
            row = next(r for r in cached.values() if r["ec2InstanceID"] == inst["InstanceId"])
            assert row["privateIp"] == inst["PrivateIpAddress"]
            assert row["instanceType"] == inst["InstanceType"]
            assert row["launchTime"] <= row["lastSyncTime"]
    # the source machines' network comes from their origin region (us-east-1 for the us-west-2 pair)
    assert all("sourceVpcId" in r for r in cached.values() if r["accountId"] == A)
    source_by_id = {s["sourceServerID"]: s for s in source_servers(sb, A, "us-west-2")}
    assert all(
        cached[sid]["sourceServerName"] == source_by_id[sid]["sourceProperties"]["identificationHints"]["hostname"]
        for sid in truth[(A, "us-west-2")]
    )

    # no call per instance: at most one DescribeSourceServers / DescribeJobs per pair holding instances
    assert calls["DescribeRecoveryInstances"] == Counter(dict.fromkeys(planned, 1))
    assert calls["DescribeSourceServers"] == Counter(dict.fromkeys(WITH_INSTANCES, 1))
    assert calls["DescribeJobs"] == Counter(dict.fromkeys(WITH_INSTANCES, 1))
    # recovery EC2 per pair + source EC2 per origin: far fewer than one per instance
    assert summary["apiCalls"]["DescribeInstances"] <= 2 * len(WITH_INSTANCES) < 13


def test_pagination_reads_every_page(sb, monkeypatch):
    # Handlers import the layer afresh inside the sandbox (a cold container): patch that module, not ours.
    import importlib

    monkeypatch.setattr(importlib.import_module("fleet_sync.syncs.recovery_instances.drs"), "PAGE_SIZE", 3)
    summary = sb.run_sync("recovery-instances")
    assert summary["outcome"] == "complete"
    pages = drs_calls(sb, "DescribeRecoveryInstances")
    assert pages[(A, "us-east-1")] == 3  # 8 instances, 3 per page
    assert by_pair(rows(sb)) == WITH_INSTANCES


def test_instances_terminated_outside_the_product_leave_the_cache_and_failed_pairs_keep_theirs(sb):
    sb.run_sync("inventory")  # as in production: region status knows which pairs hold servers
    first = sb.run_sync("recovery-instances")
    assert first["decision"] == "filtered" and {(w["accountId"], w["region"]) for w in first["workItems"]} == {
        (A, "us-east-1"),
        (A, "us-west-2"),
        (B, "eu-west-1"),
        (B, "us-east-1"),
    }
    before = rows(sb)
    gone = [sid for sid, r in before.items() if (r["accountId"], r["region"]) == (A, "us-east-1")][:2]
    terminate_outside(sb, A, "us-east-1", [before[s]["recoveryInstanceID"] for s in gone])
    # and B's eu-west-1 cannot be read this time, although one of its instances was terminated too
    b_ids = [sid for sid, r in before.items() if r["accountId"] == B]
    terminate_outside(sb, B, "eu-west-1", [before[b_ids[0]]["recoveryInstanceID"]])
    sb.set_faults(
        [{"accountId": B, "region": "eu-west-1", "operation": "DescribeRecoveryInstances", "accessDenied": True}]
    )
    summary = sb.run_sync("recovery-instances")
    assert summary["outcome"] == "partial"
    assert [(e["accountId"], e["region"], e["code"]) for e in summary["errors"]] == [
        (B, "eu-west-1", "AccessDeniedException")
    ]
    assert summary["instancesRemoved"] == 2
    after = rows(sb)
    assert set(before) - set(after) == set(gone)  # only the two, only in their pair
    assert all(sid in after for sid in b_ids)  # a failed scan deletes nothing
    status = get_recovery_instance_sync_status()
    assert status["status"] == "partial" and status["errorCount"] == 1
    # once the pair reads again, its terminated instance goes too
    sb.set_faults([])
    assert sb.run_sync("recovery-instances")["instancesRemoved"] == 1
    assert b_ids[0] not in rows(sb)


# ------------------------------------------------------------------ source executions


def test_source_execution_comes_from_the_job_tag_and_survives_later_syncs(sb):
    servers = without_instance(sb, A, "us-east-1", 3)
    launch(sb, A, "us-east-1", servers, tags={EXECUTION_ID_TAG: "exec-1", PLAN_NAME_TAG: "Tier 1"})
    summary = sb.run_sync("recovery-instances")
    assert summary["counts"]["executionsResolved"] == 3
    cached = rows(sb)
    assert {s: (cached[s]["sourceExecutionId"], cached[s]["sourcePlanName"]) for s in servers} == dict.fromkeys(
        servers, ("exec-1", "Tier 1")
    )
    assert all("sourceExecutionId" not in r for s, r in cached.items() if s not in servers)  # the index is sparse
    table = boto3.resource("dynamodb").Table(sb.table_name("recovery-instances"))
    found = table.query(
        IndexName="BySourceExecutionId",
        KeyConditionExpression=boto3.dynamodb.conditions.Key("sourceExecutionId").eq("exec-1"),
    )["Items"]
    assert sorted(i["sourceServerID"] for i in found) == sorted(servers)


def test_source_execution_from_the_execution_history_table_through_its_index():
    clear_status_cache()
    params = {**PARAMETERS, "ExecutionHistoryTableName": "orchestrator-history", "ExecutionHistoryIndexName": "ByJobId"}
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters=params) as sb:
        ddb = boto3.resource("dynamodb")
        history = ddb.create_table(
            TableName="orchestrator-history",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "executionId", "AttributeType": "S"},
                {"AttributeName": "jobId", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "executionId", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByJobId",
                    "KeySchema": [{"AttributeName": "jobId", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        servers = without_instance(sb, B, "eu-west-1", 2)
        job_id = launch(sb, B, "eu-west-1", servers)  # the orchestrator did not tag this job
        history.put_item(Item={"executionId": "exec-h", "jobId": job_id, "planName": "Analytics"})
        summary = sb.run_sync("recovery-instances")
        assert summary["outcome"] == "complete"
        cached = rows(sb)
        assert {(cached[s]["sourceExecutionId"], cached[s]["sourcePlanName"]) for s in servers} == {
            ("exec-h", "Analytics")
        }
    clear_status_cache()


# ------------------------------------------------------------------ the scoped wave-completion run


def test_wave_completion_run_syncs_just_its_servers_with_the_execution_drs_names(sb):
    full = sb.run_sync("recovery-instances")
    before = rows(sb)
    # a wave launches two servers (its job tagged by the orchestrator), and one unrelated instance is
    # terminated outside
    wave = without_instance(sb, A, "us-east-1", 2)
    launch(sb, A, "us-east-1", wave, tags={EXECUTION_ID_TAG: "exec-wave-1"})
    outsider = next(s for s, r in before.items() if (r["accountId"], r["region"]) == (A, "us-east-1"))
    terminate_outside(sb, A, "us-east-1", [before[outsider]["recoveryInstanceID"]])
    sb.reset_drs_calls()
    scoped = sb.run_sync(
        "recovery-instances",
        {"accountId": A, "region": "us-east-1", "sourceServerIDs": wave, "executionId": "exec-wave-1"},
    )
    assert scoped["status"] == "SUCCEEDED" and scoped["decision"] == "scoped"
    assert scoped["workItems"] == [{"accountId": A, "region": "us-east-1"}]
    assert scoped["instancesUpdated"] == 2 and scoped["instancesRemoved"] == 0
    assert set(drs_calls(sb, "DescribeRecoveryInstances")) == {(A, "us-east-1")}
    after = rows(sb)
    assert {after[s]["sourceExecutionId"] for s in wave} == {"exec-wave-1"}
    assert outsider in after  # a scoped run never deletes
    untouched = {s for s in before if s not in wave}
    assert all(after[s] == before[s] for s in untouched)
    # the status record still describes the last full run, and the scoped run released the sync's lock
    status = get_recovery_instance_sync_status()
    assert status["executionArn"] == full["executionArn"]
    state = {(i["pk"], i["sk"]) for i in sb.items("sync-state")}
    assert ("lock#recovery-instances", "lock") not in state
    # the next full sync keeps the execution and drops the outsider
    nxt = sb.run_sync("recovery-instances")
    final = rows(sb)
    assert {final[s]["sourceExecutionId"] for s in wave} == {"exec-wave-1"}
    assert outsider not in final and nxt["instancesRemoved"] == 1


def test_a_scoped_run_cannot_relabel_a_failovers_instances_as_a_drills(sb):
    """The probe: a scoped run naming a real failover's servers with a drill's execution id, then terminate by
    that drill's id. The run is refused (nothing written) and the failover instances keep their execution."""
    failover, drill = (without_instance(sb, A, "us-east-1", 4)[i : i + 2] for i in (0, 2))
    drs = sb.client("drs", account=A, region="us-east-1")
    drs.start_recovery(
        sourceServers=[{"sourceServerID": s} for s in failover], isDrill=False, tags={EXECUTION_ID_TAG: "exec-failover"}
    )
    launch(sb, A, "us-east-1", drill, tags={EXECUTION_ID_TAG: "exec-drill"})
    sb.run_sync("recovery-instances")
    before = rows(sb)
    assert {before[s]["sourceExecutionId"] for s in failover} == {"exec-failover"}

    relabel = {"accountId": A, "region": "us-east-1", "sourceServerIDs": failover, "executionId": "exec-drill"}
    status, started = sb.api("POST", "/syncs/recovery-instances", body=relabel)
    assert status == 202
    out = summary_of_arn(sb, started["executionArn"])
    assert out["outcome"] != "complete" and out["instancesUpdated"] == 0
    assert [e["code"] for e in out["errors"]] == ["ServerNotInExecution"]
    assert all(s in out["errors"][0]["message"] for s in failover)
    # one named server outside the execution refuses the whole run, even with the drill's own servers
    mixed = sb.run_sync("recovery-instances", {**relabel, "sourceServerIDs": [*drill, failover[0]]})
    assert [e["code"] for e in mixed["errors"]] == ["ServerNotInExecution"]
    assert rows(sb) == before

    status, report = sb.api("POST", "/recovery-instances/terminate", body={"sourceExecutionId": "exec-drill"})
    assert status == 200
    terminated = {e["sourceServerID"] for e in report["terminated"]}
    assert terminated.isdisjoint(failover)
    live = {
        i["sourceServerID"]
        for p in drs.get_paginator("describe_recovery_instances").paginate(filters={})
        for i in p["items"]
    }
    assert set(failover) <= live


@pytest.mark.parametrize(
    "bad",
    [
        {"accountId": A, "region": "us-east-1", "sourceServerIDs": ["s-00000000000000001"]},
        {"accountId": STAGING, "region": "us-east-1", "sourceServerIDs": ["s-00000000000000001"], "executionId": "e"},
        {"accountId": A, "region": "ap-south-1", "sourceServerIDs": ["s-00000000000000001"], "executionId": "e"},
    ],
)
def test_bad_wave_input_fails_the_first_state_and_writes_nothing(sb, bad):
    out = sb.run_sync("recovery-instances", bad)
    assert out["status"] == "FAILED" and out["error"] == "InvalidSyncInput"
    assert sb.items("recovery-instances") == []


# ------------------------------------------------------------------ direct invocation


def test_direct_invocation_starts_the_sync_and_returns_the_status_record(sb):
    lam = sb.client("lambda")
    fn = sb.function_name("DataManagementFunction")

    def invoke(payload):
        import json

        out = lam.invoke(FunctionName=fn, Payload=json.dumps(payload).encode())
        assert "FunctionError" not in out, out["Payload"].read()
        return json.loads(out["Payload"].read())

    assert invoke({"operation": "get_recovery_instance_sync_status"})["status"] == "no_sync_yet"
    started = invoke({"operation": "sync_recovery_instances"})
    assert ":stateMachine:" not in started["executionArn"] and "recovery-instances-sync" in started["executionArn"]
    assert sb.wait(started["executionArn"])["status"] == "SUCCEEDED"
    status = invoke({"operation": "get_recovery_instance_sync_status"})
    assert status["status"] == "healthy" and status["fresh"] is True
    assert status["instancesUpdated"] == 13 and status["regionsScanned"] == 3 and status["pairsScanned"] == 6
    assert status["errors"] == [] and status["lastSyncTime"]


# ------------------------------------------------------------------ cache-backed queries


def test_check_existing_for_100_servers_is_one_batch_get_item_and_fast(sb):
    sb.run_sync("recovery-instances")
    ids = [
        s["sourceServerID"]
        for a, r in [(A, "us-east-1"), (A, "us-west-2"), (B, "eu-west-1"), (B, "us-east-1")]
        for s in source_servers(sb, a, r)
    ]
    ids += [f"s-{n:017x}" for n in range(100 - len(ids))]  # servers DRS never had
    assert len(ids) == 100
    ddb = boto3.resource("dynamodb")
    counter = ApiCallCounter()
    counter.attach(ddb.meta.client)
    started = time.perf_counter()
    out = check_existing_recovery_instances(ids, ddb=ddb)
    first_ms = (time.perf_counter() - started) * 1000
    assert out["instanceCount"] == 13 and out["hasExistingInstances"] and out["unknown"] == []
    assert {i["sourceServerID"] for i in out["existingInstances"]} == set(rows(sb))
    assert counter.as_dict() == {"BatchGetItem": 1, "GetItem": 1}  # the status record, once per container window
    again = ApiCallCounter()
    again.attach(ddb.meta.client)
    check_existing_recovery_instances(ids, ddb=ddb)
    assert again.as_dict() == {"BatchGetItem": 1}
    assert first_ms < 3000


# ------------------------------------------------------------------ terminate


def test_terminate_by_execution_tracks_the_job_partial_failure_and_twice_is_harmless(sb):
    in_a = without_instance(sb, A, "us-east-1", 3)
    in_b = without_instance(sb, B, "eu-west-1", 2)
    launch(sb, A, "us-east-1", in_a, tags={EXECUTION_ID_TAG: "exec-t"})
    launch(sb, B, "eu-west-1", in_b, tags={EXECUTION_ID_TAG: "exec-t"})
    sb.run_sync("recovery-instances")
    cached = rows(sb)
    ri = {s: cached[s]["recoveryInstanceID"] for s in in_a + in_b}
    conflict = {"accountId": B, "region": "eu-west-1", "operation": "TerminateRecoveryInstances"}
    sb.set_faults([{**conflict, "error": "ConflictException"}])
    first = terminate_recovery_instances(source_execution_id="exec-t")
    # DRS accepted A's termination in a job that has not finished: nothing is reported terminated yet
    assert first["terminated"] == [] and first["alreadyTerminated"] == [] and first["failed"] == []
    assert sorted(e["recoveryInstanceID"] for e in first["terminating"]) == sorted(ri[s] for s in in_a)
    assert sorted(e["recoveryInstanceID"] for e in first["conflicts"]) == sorted(ri[s] for s in in_b)
    # one account role, one describe and one terminate per pair: nothing per instance
    assert first["apiCalls"] == {"AssumeRole": 2, "DescribeRecoveryInstances": 2, "TerminateRecoveryInstances": 2}
    left = rows(sb)
    assert set(in_a + in_b) <= set(left)  # every row stays until its job has terminated its instance
    assert {left[s]["terminateStatus"] for s in in_a} == {"TERMINATING"}
    assert {left[s]["terminateJobID"] for s in in_a} == {first["jobs"][0]["jobID"]}
    assert "terminateStatus" not in left[in_b[0]]
    assert {ri[s] for s in in_a} <= set(drs_truth(sb, [(A, "us-east-1")])[(A, "us-east-1")].values())
    # a sync meanwhile keeps the mark: DRS still lists the instances while the job runs
    sb.run_sync("recovery-instances")
    assert {rows(sb)[s]["terminateStatus"] for s in in_a} == {"TERMINATING"}
    # again while the job runs and the conflict lasts: A's job is asked about, not started twice
    second = terminate_recovery_instances(source_execution_id="exec-t")
    assert len(second["terminating"]) == 3 and second["summary"]["conflicts"] == 2
    assert second["apiCalls"]["TerminateRecoveryInstances"] == 1 and second["apiCalls"]["DescribeJobs"] == 1
    # the job finishes; the conflict clears; one of B's two has meanwhile been terminated elsewhere
    jobs_done(sb, "TERMINATE")
    sb.set_faults([])
    terminate_outside(sb, B, "eu-west-1", [ri[in_b[0]]])
    third = terminate_recovery_instances(source_execution_id="exec-t")
    assert sorted(e["recoveryInstanceID"] for e in third["terminated"]) == sorted(ri[s] for s in in_a)
    assert {e["jobID"] for e in third["terminated"]} == {first["jobs"][0]["jobID"]}
    assert [e["recoveryInstanceID"] for e in third["alreadyTerminated"]] == [ri[in_b[0]]]
    assert [e["recoveryInstanceID"] for e in third["terminating"]] == [ri[in_b[1]]]
    assert set(rows(sb)) & set(in_a + in_b) == {in_b[1]}
    jobs_done(sb, "TERMINATE")
    fourth = terminate_recovery_instances(source_execution_id="exec-t")
    assert [e["recoveryInstanceID"] for e in fourth["terminated"]] == [ri[in_b[1]]]
    assert not set(in_a + in_b) & set(rows(sb))
    fifth = terminate_recovery_instances(source_execution_id="exec-t")
    assert set(fifth["summary"].values()) == {0} and fifth["apiCalls"] == {}


def test_terminate_by_execution_leaves_real_recoveries_unless_asked(sb):
    drills = without_instance(sb, A, "us-east-1", 2)
    launch(sb, A, "us-east-1", drills, tags={EXECUTION_ID_TAG: "exec-mixed"})
    recovered = without_instance(sb, A, "us-east-1", 2)
    launch(sb, A, "us-east-1", recovered, tags={EXECUTION_ID_TAG: "exec-mixed"}, drill=False)
    sb.run_sync("recovery-instances")
    cached = rows(sb)
    out = terminate_recovery_instances(source_execution_id="exec-mixed")
    assert sorted(e["sourceServerID"] for e in out["terminating"]) == sorted(drills)
    assert sorted(e["sourceServerID"] for e in out["skippedRecoveries"]) == sorted(recovered)
    assert out["recoveries"] == []
    jobs_done(sb, "TERMINATE")
    truth = drs_truth(sb, [(A, "us-east-1")])[(A, "us-east-1")]
    assert set(recovered) <= set(truth) and not set(drills) & set(truth)  # the real recoveries still run
    named = terminate_recovery_instances(source_execution_id="exec-mixed", include_recoveries=True)
    assert sorted(e["recoveryInstanceID"] for e in named["recoveries"]) == sorted(
        cached[s]["recoveryInstanceID"] for s in recovered
    )
    assert sorted(e["sourceServerID"] for e in named["terminating"]) == sorted(recovered)


def test_terminate_by_ids_and_by_servers(sb):
    sb.run_sync("recovery-instances")
    cached = rows(sb)
    a_rows = [r for r in cached.values() if (r["accountId"], r["region"]) == (A, "us-east-1")]
    b_rows = [r for r in cached.values() if r["accountId"] == B]
    out = terminate_recovery_instances(recovery_instance_ids=[a_rows[0]["recoveryInstanceID"], "i-0000000000000dead"])
    assert [e["recoveryInstanceID"] for e in out["terminating"]] == [a_rows[0]["recoveryInstanceID"]]
    assert out["notInCache"] == ["i-0000000000000dead"]
    out = terminate_recovery_instances(source_server_ids=[r["sourceServerID"] for r in b_rows])
    assert out["summary"]["terminating"] == len(b_rows) and out["apiCalls"]["TerminateRecoveryInstances"] == 1
    jobs_done(sb, "TERMINATE")
    out = terminate_recovery_instances(source_server_ids=[r["sourceServerID"] for r in b_rows])
    assert out["summary"]["terminated"] == len(b_rows) and "TerminateRecoveryInstances" not in out["apiCalls"]
    terminate_recovery_instances(recovery_instance_ids=[a_rows[0]["recoveryInstanceID"]])
    left = rows(sb)
    assert a_rows[0]["sourceServerID"] not in left and not {r["sourceServerID"] for r in b_rows} & set(left)
