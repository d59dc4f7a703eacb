"""The inventory sync end to end on the sandbox: real template, ASL, handlers, moto and the DRS simulator."""

import copy
import json
from collections import Counter

import pytest
from sync_contract import checked_summary

from fleet_sync.core.regions import drs_regions
from sandbox import Sandbox

# Most tests run on six regions to stay quick; the first test keeps every region the SDK lists.
TEST_REGIONS = ["af-south-1", "ap-south-1", "eu-west-1", "sa-east-1", "us-east-1", "us-west-2"]
PARAMS = {"DrsRegions": ",".join(TEST_REGIONS)}

TARGET, OTHER, STAGING = "111111111111", "222222222222", "333333333333"
# As in AWS (the fleet defaults): DRS is uninitialized in every region an account does not list, and the
# opt-in regions (af-south-1 here) are not enabled.
FLEET = {
    "seed": 7,
    "accounts": [
        {
            "accountId": TARGET,
            "name": "prod-dr",
            "kind": "target",
            "externalId": "ext-prod",
            "stagingAccounts": [STAGING],
            "regions": {
                "us-east-1": {"sourceServers": 12, "ec2Backed": 0.5, "recoveryInstances": 1},
                "eu-west-1": {"sourceServers": 5},
            },
        },
        {"accountId": OTHER, "name": "dev-dr", "kind": "target", "regions": {"us-east-1": {"sourceServers": 4}}},
        {"accountId": STAGING, "name": "staging", "kind": "staging", "regions": {"us-east-1": {"sourceServers": 6}}},
    ],
}


def pairs(summary):
    return {(w["accountId"], w["region"]) for w in summary["workItems"]}


def rows_by_pair(sb):
    return Counter((r["accountId"], r["replicationRegion"]) for r in sb.items("inventory"))


def status_rows(sb):
    return {(r["accountId"], r["region"]): r for r in sb.items("region-status")}


def drs_calls(sb, operation="DescribeSourceServers"):
    return Counter(
        (c["accountId"], c["region"])
        for c in sb.drs_calls()["calls"]
        for _ in range(c["calls"])
        if c["operation"] == operation
    )


@pytest.fixture()
def sb():
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters=PARAMS) as box:
        yield box


def test_first_run_scans_everything_then_only_pairs_with_servers():
    all_regions = drs_regions()
    with Sandbox(fleet=copy.deepcopy(FLEET)) as sb:
        first_then_filtered(sb, all_regions)


def first_then_filtered(sb, all_regions):
    # Given an empty region status table (a new deployment)
    first = sb.run_sync("inventory")
    # Then the first run falls back to every region the SDK lists for DRS, in every account, and says so
    assert len(all_regions) >= 34
    checked_summary(first)
    assert first["status"] == "SUCCEEDED" and first["decision"] == "fallback_empty"
    assert first["workItemCount"] == 3 * len(all_regions)
    # and the pairs DRS answers as empty (never initialized, opt-in region not enabled) are no failures
    assert (first["outcome"], first["errorCount"], first["errors"]) == ("complete", 0, [])
    assert sum(first["itemsByStatus"].values()) == first["workItemCount"]
    assert first["itemsByStatus"]["AVAILABLE"] == 4
    assert first["serversSynced"] == 12 + 5 + 4 + 6
    assert rows_by_pair(sb) == {
        (TARGET, "us-east-1"): 12,
        (TARGET, "eu-west-1"): 5,
        (OTHER, "us-east-1"): 4,
        (STAGING, "us-east-1"): 6,
    }
    assert len(status_rows(sb)) == 3 * len(all_regions)  # the fallback populated region status
    # And it read the template only in the four pairs holding servers, and assumed each account's role once
    # (the workers' container keeps credentials until shortly before they expire)
    assert first["apiCalls"]["DescribeReplicationConfigurationTemplates"] == 4
    assert first["apiCalls"]["AssumeRole"] == 3
    # When the next run starts
    sb.reset_drs_calls()
    second = sb.run_sync("inventory")
    # Then it scans only the four pairs that hold servers, one DescribeSourceServers page each
    assert second["decision"] == "filtered"
    active = {(TARGET, "us-east-1"), (TARGET, "eu-west-1"), (OTHER, "us-east-1"), (STAGING, "us-east-1")}
    assert pairs(second) == active
    assert drs_calls(sb) == Counter(dict.fromkeys(active, 1))
    assert second["regionsSkipped"] == len(all_regions) - 2
    assert second["apiCalls"]["DescribeSourceServers"] == 4
    # one AssumeRole per account per run: the session tags name the execution, so a run never reuses another's
    assert second["apiCalls"]["AssumeRole"] == 3


def test_known_empty_pairs_are_recorded_empty_and_only_failures_are_errors(sb):
    # Given a pair whose access is denied, beside pairs DRS answers as empty
    sb.set_faults([{"accountId": OTHER, "region": "eu-west-1", "accessDenied": True}])
    summary = sb.run_sync("inventory")
    status = status_rows(sb)
    # Then an uninitialized pair and an opt-in region not enabled are recorded with 0 servers, not as errors
    for pair, expected in (((TARGET, "ap-south-1"), "UNINITIALIZED"), ((TARGET, "af-south-1"), "NOT_ENABLED")):
        assert status[pair]["status"] == expected
        assert (status[pair]["serverCount"], status[pair]["replicatingCount"]) == (0, 0)
        assert status[pair]["lastSuccess"] == status[pair]["lastChecked"]
    assert status[(TARGET, "us-east-1")]["status"] == "AVAILABLE"
    assert status[(TARGET, "us-east-1")]["serverCount"] == 12
    # and the one real failure is the run's only error
    assert [(e["accountId"], e["region"], e["code"]) for e in summary["errors"]] == [
        (OTHER, "eu-west-1", "AccessDeniedException")
    ]
    assert (summary["outcome"], summary["errorCount"]) == ("partial", 1)
    assert summary["itemsByStatus"]["UNINITIALIZED"] >= 1 and summary["itemsByStatus"]["NOT_ENABLED"] == 3
    # When the next run starts, the known-empty pairs wait for the discovery age like any empty pair
    assert pairs(sb.run_sync("inventory")) == {
        (TARGET, "us-east-1"),
        (TARGET, "eu-west-1"),
        (OTHER, "us-east-1"),
        (STAGING, "us-east-1"),
    }


def test_a_pair_with_servers_that_answers_uninitialized_keeps_its_rows_and_is_an_error(sb):
    sb.run_sync("inventory")
    before = [r for r in sb.items("inventory") if (r["accountId"], r["replicationRegion"]) == (TARGET, "eu-west-1")]
    assert len(before) == 5
    # When a pair that holds servers suddenly answers UninitializedAccountException
    sb.set_faults([{"accountId": TARGET, "region": "eu-west-1", "uninitialized": True}])
    summary = sb.run_sync("inventory")
    # Then that is an anomaly: reported as an error, with its rows and its last count kept
    assert [(e["accountId"], e["region"], e["code"]) for e in summary["errors"]] == [
        (TARGET, "eu-west-1", "UninitializedAccountException")
    ]
    assert "5 rows" in summary["errors"][0]["message"]
    assert summary["outcome"] == "partial"
    after = [r for r in sb.items("inventory") if (r["accountId"], r["replicationRegion"]) == (TARGET, "eu-west-1")]
    assert after == before
    row = status_rows(sb)[(TARGET, "eu-west-1")]
    assert (row["status"], row["serverCount"]) == ("UNINITIALIZED", 5)
    assert row["errorCode"] == "UninitializedAccountException"
    # and it stays planned and reported until DRS answers again
    assert (TARGET, "eu-west-1") in {(e["accountId"], e["region"]) for e in sb.run_sync("inventory")["errors"]}


def test_a_pair_with_a_count_but_no_rows_that_answers_uninitialized_is_an_error(sb):
    sb.run_sync("inventory")
    # Given region status says a pair holds servers while the inventory holds none of them (rows lost)
    ddb = sb.client("dynamodb")
    for r in sb.items("inventory"):
        if (r["accountId"], r["replicationRegion"]) == (OTHER, "us-east-1"):
            key = {"accountRegion": {"S": r["accountRegion"]}, "sourceServerID": {"S": r["sourceServerID"]}}
            ddb.delete_item(TableName=sb.table_name("inventory"), Key=key)
    sb.set_faults([{"accountId": OTHER, "region": "us-east-1", "uninitialized": True}])
    summary = sb.run_sync("inventory")
    # Then the known count alone makes the empty answer an anomaly, and the count is kept
    assert [(e["accountId"], e["region"]) for e in summary["errors"]] == [(OTHER, "us-east-1")]
    assert "last seen with 4 servers" in summary["errors"][0]["message"]
    assert status_rows(sb)[(OTHER, "us-east-1")]["serverCount"] == 4


def test_a_failed_scan_keeps_rows_and_the_last_count(sb):
    sb.run_sync("inventory")
    before = sb.items("inventory")
    # When one pair throttles beyond every retry and another denies access
    sb.set_faults(
        [
            {
                "accountId": TARGET,
                "region": "us-east-1",
                "operation": "DescribeSourceServers",
                "throttleTps": 0.001,
                "burst": 1,
            },
            {"accountId": OTHER, "region": "us-east-1", "accessDenied": True},
        ]
    )
    sb.run_sync("inventory")  # uses the one token of the bucket on the first call
    summary = sb.run_sync("inventory")
    # Then their rows and counts stay, their status says why, and the other pairs were still scanned
    status = status_rows(sb)
    assert status[(TARGET, "us-east-1")]["status"] == "THROTTLED"
    assert status[(TARGET, "us-east-1")]["serverCount"] == 12
    assert status[(OTHER, "us-east-1")]["status"] == "ACCESS_DENIED"
    assert status[(OTHER, "us-east-1")]["serverCount"] == 4
    assert sorted(sb.items("inventory"), key=lambda r: r["sourceServerID"]) == sorted(
        before, key=lambda r: r["sourceServerID"]
    )
    codes = {(e["accountId"], e["region"]): e["code"] for e in summary["errors"]}
    assert codes[(TARGET, "us-east-1")] == "RegionScanThrottled"
    assert codes[(OTHER, "us-east-1")] == "AccessDeniedException"
    assert status[(STAGING, "us-east-1")]["status"] == "AVAILABLE"
    # And the next filtered run still scans them: a failure never makes a pair look empty
    sb.set_faults([])
    again = sb.run_sync("inventory")
    assert {(TARGET, "us-east-1"), (OTHER, "us-east-1")} <= pairs(again)
    assert again["errorCount"] == 0


def test_servers_that_leave_drs_are_removed_only_in_their_pair(sb):
    sb.run_sync("inventory")
    drs = sb.client("drs", account=OTHER, region="us-east-1")
    gone = drs.describe_source_servers()["items"][0]["sourceServerID"]
    drs.disconnect_source_server(sourceServerID=gone)
    drs.delete_source_server(sourceServerID=gone)
    summary = sb.run_sync("inventory")
    ids = {(r["accountId"], r["sourceServerID"]) for r in sb.items("inventory")}
    assert (OTHER, gone) not in ids
    assert rows_by_pair(sb)[(OTHER, "us-east-1")] == 3
    assert rows_by_pair(sb)[(TARGET, "us-east-1")] == 12  # the other account in the same region is untouched
    assert summary["serversRemoved"] == 1


def test_pagination_past_1000_servers():
    fleet = {
        "seed": 3,
        "accounts": [{"accountId": TARGET, "kind": "target", "regions": {"us-west-2": {"sourceServers": 1205}}}],
    }
    with Sandbox(fleet=fleet, parameters=PARAMS) as sb:
        sb.run_sync("inventory", input={"regions": ["us-west-2"]})
        assert rows_by_pair(sb)[(TARGET, "us-west-2")] == 1205
        assert len({r["sourceServerID"] for r in sb.items("inventory")}) == 1205
        assert drs_calls(sb)[(TARGET, "us-west-2")] == 2  # 1,000 per page


def test_a_new_region_is_found_by_discovery(sb):
    sb.run_sync("inventory")
    sb.run_sync("inventory")
    # Servers appear in a region that had none
    new = sb.add_source_servers(OTHER, "sa-east-1", 5)
    filtered = sb.run_sync("inventory")
    assert (OTHER, "sa-east-1") not in pairs(filtered)
    discovery = sb.run_sync("inventory", input={"mode": "discovery"})
    assert discovery["decision"] == "discovery" and (OTHER, "sa-east-1") in pairs(discovery)
    assert {r["sourceServerID"] for r in sb.items("inventory") if r["replicationRegion"] == "sa-east-1"} == set(new)
    # And from then on the region is active for that account
    assert (OTHER, "sa-east-1") in pairs(sb.run_sync("inventory"))


def test_a_second_run_over_an_unchanged_fleet_writes_nothing(sb):
    sb.run_sync("inventory")
    before = {r["sourceServerID"]: r for r in sb.items("inventory")}
    summary = sb.run_sync("inventory")
    assert summary["serversWritten"] == 0 and summary["serversUnchanged"] == 27
    assert {r["sourceServerID"]: r for r in sb.items("inventory")} == before


def test_bad_input_fails_the_first_state_and_writes_nothing(sb):
    for bad in (
        {"bogus": 1},
        {"accounts": ["12"]},
        {"mode": "everything"},
        {"regions": ["mars-1"]},
        {"accounts": ["999999999999"]},
    ):
        summary = sb.run_sync("inventory", input=bad)
        assert summary["status"] == "FAILED" and summary["error"] == "InvalidSyncInput", bad
    assert sb.items("region-status") == [] and sb.items("inventory") == []
    assert sb.items("sync-state") == []  # no lock, no plan, no summary


def test_scope_narrows_a_run(sb):
    summary = sb.run_sync("inventory", input={"accounts": [OTHER], "regions": ["us-east-1", "eu-west-1"]})
    assert pairs(summary) == {(OTHER, "us-east-1"), (OTHER, "eu-west-1")}
    assert set(rows_by_pair(sb)) == {(OTHER, "us-east-1")}


def test_overlapping_runs_do_not_both_write(sb):
    first = sb.start_sync("inventory")
    second = sb.start_sync("inventory")
    results = [json.loads(sb.wait(arn)["output"]) for arn in (first, second)]
    decisions = sorted(r["decision"] for r in results)
    assert decisions == ["fallback_empty", "skipped"], decisions
    # The lock is released by the run that held it: the next run proceeds
    assert sb.run_sync("inventory")["decision"] == "filtered"


def test_property_9_every_row_is_complete(sb):
    sb.run_sync("inventory")
    required = {
        "sourceServerID",
        "replicationRegion",
        "replicationState",
        "hostname",
        "sourceAccountId",
        "sourceTags",
        "accountId",
        "stagingAccountId",
        "lastUpdated",
        "originalSourceRegion",
        "originalAccountId",
        "topologyLastUpdated",
    }
    for row in sb.items("inventory"):
        assert required <= set(row), required - set(row)
    ec2_backed = [r for r in sb.items("inventory") if r.get("awsInstanceID") and r.get("ec2InstanceType")]
    assert ec2_backed, "ec2Backed servers carry EC2 details"
