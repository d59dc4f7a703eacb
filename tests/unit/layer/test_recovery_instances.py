"""Recovery-instance cache, layer level: input model, scoped plan, row building (properties with many
examples), status record, BatchGetItem batching and retries, freshness of cache answers.

DynamoDB tables are moto tables created from template.yaml's own definitions (tests/unit/layer/conftest.py).
"""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_sync.core.aws import ApiCallCounter
from fleet_sync.core.clock import iso
from fleet_sync.core.errors import InvalidSyncInput
from fleet_sync.core.settings import get_settings
from fleet_sync.core.tables import SYNC_STATE
from fleet_sync.run.accounts import AccountRecord
from fleet_sync.run.models import ItemResult, RunRecord, parse_sync_input
from fleet_sync.run.registry import sync_spec
from fleet_sync.run.sync_state import SyncStateStore
from fleet_sync.run.tasks import build_summary
from fleet_sync.syncs.recovery_instances.drs import (
    EXECUTION_ID_TAG,
    PLAN_NAME_TAG,
    SourceExecution,
    find_source_execution,
    get_recovery_instances_for_region,
    get_source_servers,
)
from fleet_sync.syncs.recovery_instances.queries import (
    InvalidRecoveryInstanceRequest,
    check_existing_recovery_instances,
)
from fleet_sync.syncs.recovery_instances.rows import (
    REQUIRED_FIELDS,
    ROW_TTL_SECONDS,
    carry_over,
    content,
    missing_fields,
    to_cache_row,
)
from fleet_sync.syncs.recovery_instances.spec import RecoveryInstancesSyncInput, scoped_plan
from fleet_sync.syncs.recovery_instances.status import (
    FRESH_MINUTES,
    clear_status_cache,
    get_recovery_instance_sync_status,
    sync_status_record,
)
from fleet_sync.syncs.recovery_instances.store import CacheStore, batch_get_rows
from fleet_sync.syncs.recovery_instances.terminate import terminate_recovery_instances

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ACCOUNT, REGION = "111111111111", "us-east-1"


def sid(n: int) -> str:
    return f"s-{n:017x}"


def iid(n: int) -> str:
    return f"i-{n:017x}"


# ------------------------------------------------------------------ input and plan


def test_the_sync_covers_target_accounts_and_lifts_its_counters():
    spec = sync_spec("recovery-instances")
    accounts = [AccountRecord(accountId=ACCOUNT), AccountRecord(accountId="333333333333", kind="staging")]
    assert [a.accountId for a in spec.select_accounts(accounts, RecoveryInstancesSyncInput())] == [ACCOUNT]
    counts = {"instancesSeen": 4, "instancesUpdated": 4, "instancesRemoved": 1}
    result = ItemResult(accountId=ACCOUNT, region=REGION, status="AVAILABLE", ok=True, counts=counts)
    run = RunRecord(sync="recovery-instances", runId="r", executionArn="arn", decision="filtered", workItemCount=1)
    summary = build_summary(spec, run, [result]).dump()
    assert summary["instancesUpdated"] == 4 and summary["instancesRemoved"] == 1
    assert summary["serversSynced"] == 0  # recovery instances are not source servers the item listed


def test_scheduled_input_is_the_common_one():
    req = parse_sync_input(RecoveryInstancesSyncInput, "recovery-instances", {"regions": [REGION], "mode": "discovery"})
    assert isinstance(req, RecoveryInstancesSyncInput)
    assert not req.scoped
    assert scoped_plan(req, [ACCOUNT], [REGION]) is None


def test_scoped_input_plans_exactly_its_pair():
    raw = {"accountId": ACCOUNT, "region": REGION, "sourceServerIDs": [sid(2), sid(1), sid(1)], "executionId": "e-1"}
    req = parse_sync_input(RecoveryInstancesSyncInput, "recovery-instances", raw)
    assert isinstance(req, RecoveryInstancesSyncInput)
    assert req.scoped and req.sourceServerIDs == [sid(1), sid(2)]
    plan = scoped_plan(req, [ACCOUNT, "222222222222"], [REGION, "eu-west-1"])
    assert plan is not None
    assert plan.decision == "scoped"
    assert plan.items == [{"accountId": ACCOUNT, "region": REGION}]
    assert plan.pairs_skipped == 0 and plan.regions_skipped == 0
    # the run's options carry what the worker needs
    options = req.model_dump(exclude={"accounts", "regions", "mode"}, exclude_none=True)
    assert options == {
        "accountId": ACCOUNT,
        "region": REGION,
        "sourceServerIDs": [sid(1), sid(2)],
        "executionId": "e-1",
    }


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"accountId": ACCOUNT, "region": REGION, "sourceServerIDs": [sid(1)]}, "executionId"),
        ({"accountId": ACCOUNT, "region": REGION, "executionId": "e"}, "sourceServerIDs"),
        ({"accountId": ACCOUNT, "region": REGION, "sourceServerIDs": ["bad"], "executionId": "e"}, "bad"),
        ({"accountId": "12", "region": REGION, "sourceServerIDs": [sid(1)], "executionId": "e"}, "accountId"),
        (
            {
                "accountId": ACCOUNT,
                "region": REGION,
                "sourceServerIDs": [sid(1)],
                "executionId": "e",
                "mode": "discovery",
            },
            "no accounts, regions or mode",
        ),
        ({"sourceServerIDs": [], "accountId": ACCOUNT, "region": REGION, "executionId": "e"}, "sourceServerIDs"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_bad_scoped_input_is_rejected_naming_the_field(raw, needle):
    with pytest.raises(InvalidSyncInput, match=needle):
        parse_sync_input(RecoveryInstancesSyncInput, "recovery-instances", raw)


def test_scoped_plan_rejects_unknown_account_and_region():
    req = RecoveryInstancesSyncInput(accountId=ACCOUNT, region=REGION, sourceServerIDs=[sid(1)], executionId="e")
    with pytest.raises(InvalidSyncInput, match="not a registered target account"):
        scoped_plan(req, ["222222222222"], [REGION])
    with pytest.raises(InvalidSyncInput, match="not a DRS region"):
        scoped_plan(req, [ACCOUNT], ["eu-west-1"])


# ------------------------------------------------------------------ rows (pure, many examples)

states = st.sampled_from(["PENDING", "RUNNING", "STOPPING", "STOPPED", "SHUTTING-DOWN", "TERMINATED", "NOT_FOUND"])
optional_text = st.one_of(st.none(), st.just(""), st.text("abcdef-0123", min_size=1, max_size=12))


@st.composite
def recovery_instances(draw):
    n = draw(st.integers(1, 10**6))
    ri = {
        "recoveryInstanceID": iid(n),
        "ec2InstanceID": iid(n),
        "sourceServerID": sid(n),
        "ec2InstanceState": draw(st.one_of(st.none(), states)),
        "jobID": draw(st.one_of(st.none(), st.just(f"drsjob-{n:017x}"))),
        "isDrill": draw(st.one_of(st.none(), st.booleans())),
        "originEnvironment": draw(st.one_of(st.none(), st.sampled_from(["AWS", "ON_PREMISES"]))),
        "pointInTimeSnapshotDateTime": draw(st.one_of(st.none(), st.just("2026-11-22T11:00:00Z"))),
    }
    return {k: v for k, v in ri.items() if v is not None or k in ("ec2InstanceState",)}


@st.composite
def servers(draw, source_server_id):
    if draw(st.booleans()):
        return None
    status = draw(st.sampled_from(["EXTENDED", "NOT_EXTENDED", None]))
    return {
        "sourceServerID": source_server_id,
        "sourceProperties": {"identificationHints": {"hostname": draw(optional_text), "fqdn": draw(optional_text)}},
        "stagingArea": {"status": status, "stagingAccountID": "333333333333"} if status else {},
    }


@st.composite
def ec2_fields(draw, now):
    if draw(st.booleans()):
        return None
    launched = now - timedelta(seconds=draw(st.integers(0, 10**7)))
    return {
        "name": draw(optional_text),
        "privateIp": draw(st.one_of(st.none(), st.just("10.0.0.1"))),
        "publicIp": draw(st.one_of(st.none(), st.just("54.0.0.1"))),
        "instanceType": draw(st.one_of(st.none(), st.just("m5.large"))),
        "launchTime": iso(launched),
        "ec2InstanceState": draw(st.one_of(st.none(), st.just("running"))),
    }


@st.composite
def row_inputs(draw):
    now = NOW - timedelta(seconds=draw(st.integers(0, 10**6)))
    ri = draw(recovery_instances())
    execution = draw(st.one_of(st.none(), st.builds(SourceExecution, optional_text, optional_text, st.just("job-tag"))))
    network = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"sourceVpcId": optional_text, "sourceSecurityGroupIds": st.lists(st.just("sg-1"), max_size=2)}
            ),
        )
    )
    return {
        "ri": ri,
        "server": draw(servers(ri["sourceServerID"])),
        "ec2": draw(ec2_fields(now)),
        "source_network": network,
        "execution": execution,
        "now": now,
    }


@settings(max_examples=300, deadline=None)
@given(row_inputs())
def test_every_row_has_the_required_fields_and_no_empty_values(args):
    row = to_cache_row(**args, account_id=ACCOUNT, region=REGION)
    assert missing_fields(row) == []
    assert set(REQUIRED_FIELDS) <= set(row)
    assert all(v not in (None, "", []) for v in row.values())  # a sparse index never sees an empty key
    assert row["accountRegion"] == f"{ACCOUNT}#{REGION}"
    assert row["expiresAt"] == int(args["now"].timestamp()) + ROW_TTL_SECONDS
    json.dumps(row)  # plain JSON, ready for DynamoDB


@settings(max_examples=300, deadline=None)
@given(row_inputs())
def test_last_sync_time_is_never_before_launch_time(args):
    row = to_cache_row(**args, account_id=ACCOUNT, region=REGION)
    if "launchTime" in row:
        assert row["lastSyncTime"] >= row["launchTime"]  # same ISO format: string order is time order


@settings(max_examples=200, deadline=None)
@given(row_inputs(), st.integers(1, 10**5))
def test_a_later_sync_of_the_same_instance_changes_nothing_but_bookkeeping(args, later_seconds):
    first = to_cache_row(**args, account_id=ACCOUNT, region=REGION)
    later = to_cache_row(
        **{**args, "now": args["now"] + timedelta(seconds=later_seconds)}, account_id=ACCOUNT, region=REGION
    )
    assert content(carry_over(later, first)) == content(first)
    assert later["lastSyncTime"] >= first["lastSyncTime"] and later["expiresAt"] > first["expiresAt"]


def test_carry_over_keeps_execution_and_network_of_the_same_instance_only():
    old = {"recoveryInstanceID": iid(1), "sourceExecutionId": "e-1", "sourcePlanName": "P", "sourceVpcId": "vpc-1"}
    new = {"recoveryInstanceID": iid(1), "sourceServerID": sid(1)}
    assert carry_over(new, old) == {**new, "sourceExecutionId": "e-1", "sourcePlanName": "P", "sourceVpcId": "vpc-1"}
    assert carry_over({**new, "sourceExecutionId": "e-2"}, old)["sourceExecutionId"] == "e-2"
    relaunched = {"recoveryInstanceID": iid(2), "sourceServerID": sid(1)}
    assert carry_over(relaunched, old) == relaunched  # a new launch starts clean


# ------------------------------------------------------------------ DRS reads against fakes


class FakePaginator:
    def __init__(self, calls, op, responder):
        self.calls, self.op, self.responder = calls, op, responder

    def paginate(self, **kwargs):
        token, page_no = None, 0
        while True:
            self.calls.append((self.op, kwargs))
            page = self.responder(kwargs, page_no)
            yield page
            page_no += 1
            token = page.get("nextToken")
            if not token:
                return


class FakeDrs:
    def __init__(self, instances, jobs=()):
        self.instances, self.jobs, self.calls = instances, {j["jobID"]: j for j in jobs}, []

    def get_paginator(self, name):
        def ri(kwargs, page_no):
            f = kwargs["filters"]
            rows = [
                r for r in self.instances if not f.get("sourceServerIDs") or r["sourceServerID"] in f["sourceServerIDs"]
            ]
            size = kwargs["PaginationConfig"]["PageSize"]
            chunk = rows[page_no * size : (page_no + 1) * size]
            return {"items": chunk, **({"nextToken": "t"} if len(rows) > (page_no + 1) * size else {})}

        def ss(kwargs, page_no):
            assert len(kwargs["filters"]["sourceServerIDs"]) <= 200
            return {"items": [{"sourceServerID": s} for s in kwargs["filters"]["sourceServerIDs"]]}

        def jobs(kwargs, page_no):
            assert len(kwargs["filters"]["jobIDs"]) <= 1000
            return {"items": [self.jobs[j] for j in kwargs["filters"]["jobIDs"] if j in self.jobs]}

        return FakePaginator(
            self.calls,
            name,
            {"describe_recovery_instances": ri, "describe_source_servers": ss, "describe_jobs": jobs}[name],
        )


def test_reads_are_batched_never_per_instance():
    instances = [{"recoveryInstanceID": iid(n), "sourceServerID": sid(n), "jobID": f"j{n % 3}"} for n in range(450)]
    drs = FakeDrs(
        instances,
        jobs=[{"jobID": "j0", "tags": {EXECUTION_ID_TAG: "e-0", PLAN_NAME_TAG: "Plan"}}, {"jobID": "j1", "tags": {}}],
    )
    got = get_recovery_instances_for_region(drs, page_size=100)
    assert len(got) == 450 and [c[0] for c in drs.calls].count("describe_recovery_instances") == 5
    drs.calls.clear()
    servers_by_id = get_source_servers(drs, [r["sourceServerID"] for r in got])
    assert len(servers_by_id) == 450 and len(drs.calls) == 3  # 200 + 200 + 50
    drs.calls.clear()
    found = find_source_execution(drs, [r["jobID"] for r in got])
    assert found == {"j0": SourceExecution("e-0", "Plan", "job-tag")} and len(drs.calls) == 1


def test_scoped_reads_filter_by_server_ids_200_at_a_time():
    instances = [{"recoveryInstanceID": iid(n), "sourceServerID": sid(n)} for n in range(500)]
    drs = FakeDrs(instances)
    got = get_recovery_instances_for_region(drs, [sid(n) for n in range(0, 500, 2)])
    assert len(got) == 250
    assert [len(c[1]["filters"]["sourceServerIDs"]) for c in drs.calls] == [200, 50]


class FakeHistory:
    def __init__(self, items):
        self.items, self.queries = items, []

    def query(self, **kwargs):
        self.queries.append(kwargs)
        job_id = kwargs["KeyConditionExpression"].get_expression()["values"][1]
        return {"Items": [i for i in self.items if i["jobId"] == job_id][:1]}


def test_execution_history_is_queried_through_its_index_only_for_untagged_jobs():
    drs = FakeDrs([], jobs=[{"jobID": "j0", "tags": {EXECUTION_ID_TAG: "e-0"}}, {"jobID": "j1", "tags": {}}])
    history = FakeHistory([{"jobId": "j1", "executionId": "e-1", "planName": "Plan 1"}])
    found = find_source_execution(drs, ["j0", "j1", "j2", "j1"], history_table=history, history_index="ByJobId")
    assert found["j0"].via == "job-tag" and found["j1"] == SourceExecution("e-1", "Plan 1", "execution-history")
    assert "j2" not in found
    assert [q["IndexName"] for q in history.queries] == ["ByJobId", "ByJobId"]  # j1 and j2, never a Scan


# ------------------------------------------------------------------ status record


def status_item(outcome, finished, **summary):
    return {
        "finishedAt": iso(finished),
        "outcome": outcome,
        "workItemCount": 3,
        "errorCount": len(summary.get("errors", [])),
        "decision": "filtered",
        "executionArn": "arn:x",
        "summary": {
            "workItems": [{"accountId": ACCOUNT, "region": r} for r in (REGION, "eu-west-1", REGION)],
            "instancesUpdated": 7,
            **summary,
        },
    }


@pytest.mark.parametrize(
    "outcome, status", [("complete", "healthy"), ("partial", "partial"), ("failed", "error"), ("odd", "error")]
)
def test_status_record_from_the_last_full_run(outcome, status):
    rec = sync_status_record(status_item(outcome, NOW - timedelta(minutes=2)), now=NOW)
    assert rec["status"] == status
    assert rec["lastSyncTime"] == iso(NOW - timedelta(minutes=2))
    assert rec["instancesUpdated"] == 7 and rec["regionsScanned"] == 2 and rec["pairsScanned"] == 3
    assert rec["fresh"] is True and rec["ageSeconds"] == 120


def test_status_record_before_any_sync_and_when_old():
    assert sync_status_record(None)["status"] == "no_sync_yet"
    old = sync_status_record(status_item("complete", NOW - timedelta(minutes=FRESH_MINUTES + 1)), now=NOW)
    assert old["status"] == "healthy" and old["fresh"] is False


# ------------------------------------------------------------------ cache queries on moto tables


@pytest.fixture()
def cache(tables, monkeypatch):
    cache_table, state_table = tables("RecoveryInstancesCacheTable", "SyncStateTable")
    env = {
        "STACK_NAME": "t",
        "ACCOUNTS_TABLE": "AccountsTable",
        "REGION_STATUS_TABLE": "RegionStatusTable",
        "INVENTORY_TABLE": "InventoryTable",
        "SYNC_STATE_TABLE": state_table.name,
        "RECOVERY_INSTANCES_TABLE": cache_table.name,
        "STAGING_EXTENSIONS_TABLE": "StagingExtensionsTable",
        "PLAN_BUCKET": "b",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    clear_status_cache()
    yield cache_table, state_table
    clear_status_cache()


def test_the_cache_is_trusted_for_three_intervals_of_the_configured_schedule(cache, monkeypatch):
    # With a sync every 15 minutes, a row or a full run 20 minutes old is the latest there can be: still fresh.
    cache_table, state_table = cache
    monkeypatch.setenv("RECOVERY_INSTANCES_SYNC_RATE_MINUTES", "15")
    now = datetime.now(UTC)
    put_rows(cache_table, [1], now - timedelta(minutes=20))
    put_status(state_table, "complete", now - timedelta(minutes=20))
    ddb = boto3.resource("dynamodb", region_name="us-east-1")
    out = check_existing_recovery_instances([sid(1), sid(2)], ddb=ddb, now=now)
    assert out["instanceCount"] == 1 and out["unknown"] == []
    status = get_recovery_instance_sync_status(state_table=state_table, now=now)
    assert status["fresh"] is True and status["freshMinutes"] == 45
    # ... and stale once three intervals have passed
    put_rows(cache_table, [1], now - timedelta(minutes=46))
    assert check_existing_recovery_instances([sid(1)], ddb=ddb, now=now)["unknownReasons"] == {sid(1): "stale"}
    monkeypatch.setenv("RECOVERY_INSTANCES_SYNC_RATE_MINUTES", "5")
    assert get_recovery_instance_sync_status(state_table=state_table, now=now)["fresh"] is False


def put_rows(cache_table, ids, synced):
    rows = [
        to_cache_row(
            {
                "recoveryInstanceID": iid(n),
                "ec2InstanceID": iid(n),
                "sourceServerID": sid(n),
                "ec2InstanceState": "RUNNING",
            },
            account_id=ACCOUNT,
            region=REGION,
            server=None,
            ec2=None,
            source_network=None,
            execution=None,
            now=synced,
        )
        for n in ids
    ]
    CacheStore(cache_table).put_rows(rows)


def put_status(state_table, outcome, finished):
    summary = {
        "executionArn": "arn:x",
        "decision": "filtered",
        "outcome": outcome,
        "workItemCount": 1,
        "errorCount": 0,
        "workItems": [],
    }
    SyncStateStore(state_table).put_sync_status("recovery-instances", summary)
    state_table.update_item(
        Key=SYNC_STATE.key("status#recovery-instances", "status"),
        UpdateExpression="SET finishedAt = :f",
        ExpressionAttributeValues={":f": iso(finished)},
    )


def counted(resource):
    counter = ApiCallCounter()
    counter.attach(resource.meta.client)
    return counter


def test_100_servers_cost_one_batch_get_item(cache):
    cache_table, _state_table = cache
    now = datetime.now(UTC)
    put_rows(cache_table, range(100), now)
    ddb = boto3.resource("dynamodb", region_name="us-east-1")
    counter = counted(ddb)
    out = check_existing_recovery_instances([sid(n) for n in range(100)], ddb=ddb, now=now)
    assert counter.as_dict() == {"BatchGetItem": 1}
    assert out["hasExistingInstances"] and out["instanceCount"] == 100 and out["unknown"] == []
    assert [i["sourceServerID"] for i in out["existingInstances"]] == [sid(n) for n in range(100)]  # input order


def test_stale_pairs_and_uncertain_misses_are_unknown_not_none(cache):
    cache_table, state_table = cache
    now = datetime.now(UTC)
    put_rows(cache_table, [1, 2], now)
    put_rows(cache_table, [3], now - timedelta(minutes=FRESH_MINUTES + 5))  # its pair has not synced lately
    ddb = boto3.resource("dynamodb", region_name="us-east-1")
    ids = [sid(1), sid(2), sid(3), sid(4)]
    out = check_existing_recovery_instances(ids, ddb=ddb, now=now)
    assert out["instanceCount"] == 2 and out["unknownReasons"] == {sid(3): "stale", sid(4): "no_sync_yet"}
    assert [r["sourceServerID"] for r in out["staleInstances"]] == [sid(3)]
    # a recent complete full sync vouches for servers without a row: they have no instance
    put_status(state_table, "complete", now - timedelta(minutes=1))
    clear_status_cache()
    out = check_existing_recovery_instances(ids, ddb=ddb, now=now)
    assert out["unknown"] == [sid(3)]
    # an incomplete one cannot
    put_status(state_table, "partial", now - timedelta(minutes=1))
    clear_status_cache()
    assert check_existing_recovery_instances(ids, ddb=ddb, now=now)["unknownReasons"][sid(4)] == "last_sync_incomplete"
    put_status(state_table, "complete", now - timedelta(minutes=FRESH_MINUTES + 1))
    clear_status_cache()
    assert check_existing_recovery_instances(ids, ddb=ddb, now=now)["unknownReasons"][sid(4)] == "last_sync_stale"


def test_status_record_is_read_once_per_container_window(cache):
    _cache_table, state_table = cache
    now = datetime.now(UTC)
    put_status(state_table, "complete", now)
    ddb = boto3.resource("dynamodb", region_name="us-east-1")
    counter = counted(ddb)
    for _ in range(3):
        check_existing_recovery_instances([sid(7)], ddb=ddb, now=now)
    assert counter.as_dict() == {"BatchGetItem": 3, "GetItem": 1}


class FlakyDynamo:
    """BatchGetItem that leaves keys unprocessed the first `flaky` times."""

    def __init__(self, flaky):
        self.flaky, self.requests = flaky, []

    def batch_get_item(self, RequestItems):
        ((name, req),) = RequestItems.items()
        keys = req["Keys"]
        self.requests.append(len(keys))
        assert len(keys) <= 100
        if self.flaky:
            self.flaky -= 1
            half = len(keys) // 2
            return {
                "Responses": {name: [dict(k) for k in keys[:half]]},
                "UnprocessedKeys": {name: {"Keys": keys[half:]}} if keys[half:] else {},
            }
        return {"Responses": {name: [dict(k) for k in keys]}, "UnprocessedKeys": {}}


def test_unprocessed_keys_are_retried_with_backoff():
    ddb = FlakyDynamo(flaky=2)
    sleeps: list[float] = []
    rows, unprocessed = batch_get_rows(ddb, "t", [sid(n) for n in range(250)], sleep=sleeps.append)
    assert len(rows) == 250 and unprocessed == []
    assert ddb.requests == [100, 50, 25, 100, 50] and len(sleeps) == 2


def test_keys_still_unprocessed_after_every_retry_are_reported():
    ddb = FlakyDynamo(flaky=10**6)
    rows, unprocessed = batch_get_rows(ddb, "t", [sid(n) for n in range(4)], sleep=lambda s: None)
    assert len(rows) + len(unprocessed) == 4 and unprocessed


def test_terminate_needs_exactly_one_selector(cache):
    with pytest.raises(InvalidRecoveryInstanceRequest):
        terminate_recovery_instances()
    with pytest.raises(InvalidRecoveryInstanceRequest):
        terminate_recovery_instances("e-1", [iid(1)])
    with pytest.raises(InvalidRecoveryInstanceRequest):
        terminate_recovery_instances(recovery_instance_ids=[])


def test_terminate_of_an_unknown_execution_is_a_harmless_no_op(cache):
    out = terminate_recovery_instances("no-such-execution", settings=get_settings())
    assert set(out["summary"]) == {
        "terminated",
        "terminating",
        "alreadyTerminated",
        "conflicts",
        "failed",
        "notInCache",
        "recoveries",
        "skippedRecoveries",
    }
    assert set(out["summary"].values()) == {0}
    assert out["apiCalls"] == {}


def test_a_single_string_is_not_a_list_of_ids(cache):
    with pytest.raises(InvalidRecoveryInstanceRequest):
        check_existing_recovery_instances(sid(1))
    with pytest.raises(InvalidRecoveryInstanceRequest):
        terminate_recovery_instances(recovery_instance_ids=iid(1))


def test_more_than_100_servers_cost_one_batch_get_item_per_100(cache):
    cache_table, _ = cache
    now = datetime.now(UTC)
    put_rows(cache_table, range(250), now)
    ddb = boto3.resource("dynamodb", region_name="us-east-1")
    counter = counted(ddb)
    out = check_existing_recovery_instances([sid(n) for n in range(250)], ddb=ddb, now=now)
    assert out["instanceCount"] == 250 and counter.as_dict() == {"BatchGetItem": 3}
