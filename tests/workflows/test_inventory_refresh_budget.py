"""POST /inventory/refresh stays inside API Gateway's 29 s however many pairs are stale and however slow DRS
is: it re-reads at most so many pairs within a time budget on the clock, and hands the rest to an inventory
run (202). On the sandbox, whose gateway answers 504 past 29 s of its clock."""

import copy
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from fleet_sync.core import aws
from fleet_sync.run.sync_state import SyncStateStore
from fleet_sync.syncs.inventory.refresh import RefreshBudget
from sandbox import Sandbox

A, B = "111111111111", "222222222222"
REGIONS = [
    "ap-northeast-1",
    "ap-southeast-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "us-east-1",
    "us-east-2",
    "us-west-2",
]
FLEET = {
    "seed": 31,
    "accounts": [
        {"accountId": account, "kind": "target", "regions": {r: {"sourceServers": 2} for r in REGIONS}}
        for account in (A, B)
    ],
}
PAIRS = sorted((account, region) for account in (A, B) for region in REGIONS)
DRS_SECONDS = 8  # each pair's DescribeSourceServers answers after this long on the sandbox clock


@pytest.fixture()
def sb():
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters={"DrsRegions": ",".join(REGIONS)}) as box:
        assert box.run_sync("inventory")["outcome"] == "complete"
        yield box


def age_every_pair(sb, hours=2):
    """As if no sync had reached any pair for hours; every container's region cache re-reads."""
    old = (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ddb = sb.client("dynamodb")
    for account, region in PAIRS:
        ddb.update_item(
            TableName=sb.table_name("region-status"),
            Key={"accountId": {"S": account}, "region": {"S": region}},
            UpdateExpression="SET lastSuccess = :t",
            ExpressionAttributeValues={":t": {"S": old}},
        )
    ddb.put_item(
        TableName=sb.table_name("sync-state"),
        Item={"pk": {"S": "cache#regions"}, "sk": {"S": "generation"}, "generation": {"S": uuid.uuid4().hex}},
    )


def inventory_ids(sb):
    out: dict[tuple[str, str], set[str]] = {pair: set() for pair in PAIRS}
    for r in sb.items("inventory"):
        out[(r["accountId"], r["replicationRegion"])].add(r["sourceServerID"])
    return out


def drs_ids(sb):
    out = {}
    for account, region in PAIRS:
        drs = sb.client("drs", account=account, region=region)
        pages = drs.get_paginator("describe_source_servers").paginate(filters={})
        out[(account, region)] = {s["sourceServerID"] for p in pages for s in p["items"]}
    return out


def pairs_of(answer, key):
    return sorted((p["accountId"], p["region"]) for p in answer[key])


def test_many_stale_pairs_behind_slow_drs_answer_before_29_seconds_and_an_inventory_run_takes_the_rest(sb):
    # Given every pair stale, a new server in each, and DRS slow to answer every pair
    added = {pair: set(sb.add_source_servers(*pair, 1)) for pair in PAIRS}
    age_every_pair(sb)
    sb.set_faults([{"operation": "DescribeSourceServers", "latencyMs": DRS_SECONDS * 1000}])
    budget = RefreshBudget()
    # When the API is asked to refresh them all
    began = sb.clock.monotonic()
    status, answer = sb.api("POST", "/inventory/refresh", body={})
    took = sb.clock.monotonic() - began
    # Then it answers within API Gateway's limit (not a 504), having re-read what its budget allowed
    assert status == 202, (status, answer)
    assert took < 29, took
    assert budget.seconds <= took  # it used its time budget, then stopped
    refreshed, pending = pairs_of(answer, "refreshedPairs"), pairs_of(answer, "pendingPairs")
    assert pairs_of(answer, "stalePairs") == PAIRS and answer["failedPairs"] == []
    assert 0 < len(refreshed) < budget.max_pairs and answer["partial"] is True
    assert sorted(refreshed + pending) == PAIRS  # every stale pair is either refreshed or named pending
    # ... the refreshed pairs are written back already, new servers included
    now = inventory_ids(sb)
    assert all(added[pair] <= now[pair] for pair in refreshed)
    # ... and the rest is an inventory run's, scoped to the pending pairs
    execution = answer["execution"]
    assert set(execution["input"]["regions"]) == {r for _, r in pending}
    assert set(execution["input"]["accounts"]) == {a for a, _ in pending}
    done = sb.wait(execution["executionArn"])
    assert done["status"] == "SUCCEEDED"
    sb.set_faults([])
    # Nothing is lost: every pair now holds exactly what DRS has, and no pair is stale any more
    assert inventory_ids(sb) == drs_ids(sb)
    status, page = sb.api("GET", "/inventory", query={"regions": ",".join(REGIONS), "limit": 1})
    assert status == 200 and page["freshness"]["stalePairs"] == []


def test_while_an_inventory_run_holds_the_lock_the_refresh_says_what_is_still_stale_and_starts_nothing(sb):
    state = SyncStateStore(aws.dynamodb().Table(sb.table_name("sync-state")))
    assert state.try_lock_for_invocation("inventory", "a-running-sync-stand-in")
    age_every_pair(sb)
    before = sb.items("inventory")
    sb.set_faults([{"operation": "DescribeSourceServers", "latencyMs": DRS_SECONDS * 1000}])
    began = sb.clock.monotonic()
    status, answer = sb.api("POST", "/inventory/refresh", body={})
    assert status == 200 and sb.clock.monotonic() - began < 29
    assert answer["partial"] is True and "execution" not in answer
    assert sorted(pairs_of(answer, "refreshedPairs") + pairs_of(answer, "pendingPairs")) == PAIRS
    assert sb.items("inventory") == before  # served from DRS, never written back beside the run
    sfn = sb.client("stepfunctions")
    runs = sfn.list_executions(stateMachineArn=sb.state_machine_arn("inventory"))["executions"]
    assert len(runs) == 1  # the fixture's run only
