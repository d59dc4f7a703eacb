"""The tag sync end to end on the sandbox: real template, ASL, handlers, moto EC2 and the DRS simulator."""

import copy
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sync_contract import checked_summary, drs_pairs, scan_calls

from fleet_sync.core.clock import iso
from fleet_sync.run.region_status import invalidate_region_cache
from fleet_sync.syncs.tags.tagging import PROVENANCE_KEYS
from sandbox import Sandbox

A, B = "111111111111", "222222222222"
REGIONS = ["ap-south-1", "eu-west-1", "sa-east-1", "us-east-1", "us-west-2"]
PARAMS = {"DrsRegions": ",".join(REGIONS)}
WRITES = ("TagResource", "UntagResource", "UpdateLaunchConfiguration")
FLEET = {
    "seed": 5,
    "accounts": [
        {
            "accountId": A,
            "kind": "target",
            "allowedDrsAccounts": [B],  # B's servers run on A's EC2
            "regions": {
                "us-east-1": {"sourceServers": 10, "ec2Backed": 0.7, "disconnected": 1, "tagged": 0.3, "copyTags": 0.5}
            },
        },
        {
            # cross-account: the EC2 instances of these DRS servers run in account A
            "accountId": B,
            "kind": "target",
            "regions": {"us-west-2": {"sourceServers": 4, "ec2Backed": 1.0, "originAccountId": A}},
        },
    ],
}


@pytest.fixture()
def sb():
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters=PARAMS) as box:
        yield box


def drs_ops(sb, operations=WRITES):
    """Calls the simulator saw, by operation, for the given operations."""
    out: Counter[str] = Counter()
    for c in sb.drs_calls()["calls"]:
        if c["operation"] in operations:
            out[c["operation"]] += c["calls"]
    return out


def servers(sb, account, region):
    drs = sb.client("drs", account=account, region=region)
    return [s for page in drs.get_paginator("describe_source_servers").paginate() for s in page["items"]]


def instance_tags(sb, account, region, instance_id):
    ec2 = sb.client("ec2", account=account, region=region)
    [res] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    inst = res["Instances"][0]
    return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}, inst["InstanceType"]


def expected_tags(sb, server, account, region):
    """The tags the sync must put on a server: its instance's (no aws:) plus provenance; None if skipped."""
    hints = server["sourceProperties"]["identificationHints"]
    if server["dataReplicationInfo"]["dataReplicationState"] == "DISCONNECTED" or "awsInstanceID" not in hints:
        return None
    origin = server.get("sourceCloudProperties") or {}
    o_account, o_region = origin.get("originAccountID", account), origin.get("originRegion", region)
    tags, itype = instance_tags(sb, o_account, o_region, hints["awsInstanceID"])
    want = {k: v for k, v in tags.items() if not k.startswith("aws:")}
    want.update(
        {
            "source:account": o_account,
            "source:region": o_region,
            "source:instance-id": hints["awsInstanceID"],
            "source:instance-type": itype,
        }
    )
    return want


def put_status(sb, rows):
    """Write region-status rows as the inventory sync would have, then drop the active-region cache."""
    ddb, ser = sb.client("dynamodb"), TypeSerializer()
    for r in rows:
        ddb.put_item(TableName=sb.table_name("region-status"), Item={k: ser.serialize(v) for k, v in r.items()})
    invalidate_region_cache()


def status_row(account, region, count, *, checked_minutes=1, success_minutes=1):
    now = datetime.now(UTC)
    return {
        "accountId": account,
        "region": region,
        "status": "AVAILABLE",
        "serverCount": count,
        "replicatingCount": count,
        "lastChecked": iso(now - timedelta(minutes=checked_minutes)),
        "lastSuccess": iso(now - timedelta(minutes=success_minutes)),
    }


def test_copies_ec2_tags_sets_copy_tags_skips_by_reason_and_a_second_run_writes_nothing(sb):
    # Given a fresh inventory of the fleet
    assert sb.run_sync("inventory")["status"] == "SUCCEEDED"
    sb.reset_drs_calls()
    # When the tag sync runs
    first = sb.run_sync("tags")
    # Then it covers the two pairs holding servers, from the inventory, and reports the contract
    assert first["status"] == "SUCCEEDED" and first["outcome"] == "complete", first
    checked_summary(first)
    assert {(w["accountId"], w["region"]) for w in first["workItems"]} == {(A, "us-east-1"), (B, "us-west-2")}
    assert first["counts"]["pairsFromInventory"] == 2 and first["apiCalls"].get("DescribeSourceServers", 0) == 0
    assert first["regionsScanned"] == 2 and first["regionsSkipped"] == len(REGIONS) - 2
    # And copyTags is written once per eligible server without reading the launch configuration first
    first_ops = drs_ops(sb, (*WRITES, "GetLaunchConfiguration"))
    assert first_ops["GetLaunchConfiguration"] == 0
    assert first_ops["UpdateLaunchConfiguration"] == first["launchConfigsUpdated"] > 0
    assert first["callsSavedVsAllRegions"] == first["pairsSkipped"] * 2 == (2 * len(REGIONS) - 2) * 2
    # And every eligible server carries its instance's tags and provenance, and copyTags is on
    tagged = 0
    skipped: Counter[str] = Counter()
    for account, region in ((A, "us-east-1"), (B, "us-west-2")):
        drs = sb.client("drs", account=account, region=region)
        for s in servers(sb, account, region):
            want = expected_tags(sb, s, account, region)
            if want is None:
                hints = s["sourceProperties"]["identificationHints"]
                skipped["notOnEc2" if "awsInstanceID" not in hints else "disconnected"] += 1
                continue
            assert {k: s["tags"].get(k) for k in want} == want
            assert drs.get_launch_configuration(sourceServerID=s["sourceServerID"])["copyTags"] is True
            tagged += 1
    assert first["skipped"] == dict(skipped)
    assert 0 < first["serversTagged"] <= tagged
    assert first["tagsRemoved"] == 0 and first["tagsAdded"] >= first["serversTagged"]
    assert drs_ops(sb)["TagResource"] == first["serversTagged"]
    # And the inventory carries the new tags (written through), topology untouched
    inventory = {r["sourceServerID"]: r for r in sb.items("inventory")}
    for account, region in ((A, "us-east-1"), (B, "us-west-2")):
        for s in servers(sb, account, region):
            assert inventory[s["sourceServerID"]]["sourceTags"] == s["tags"]
            assert inventory[s["sourceServerID"]]["originalSourceRegion"]
    # When it runs again over the unchanged fleet
    sb.reset_drs_calls()
    second = sb.run_sync("tags")
    # Then it writes nothing: no TagResource, UntagResource or launch-configuration call at all
    assert second["status"] == "SUCCEEDED" and second["serversTagged"] == 0
    assert drs_ops(sb, (*WRITES, "GetLaunchConfiguration")) == Counter()
    assert not set(second["apiCalls"]) & {*WRITES, "GetLaunchConfiguration"}
    assert second["skipped"] == first["skipped"]


def test_removes_only_the_keys_it_wrote(sb):
    sb.run_sync("inventory")
    sb.run_sync("tags")
    # Given an EC2-backed server of A, an instance tag dropped and one added, and a DRS tag someone else set
    server = next(s for s in servers(sb, A, "us-east-1") if expected_tags(sb, s, A, "us-east-1") is not None)
    iid = server["sourceProperties"]["identificationHints"]["awsInstanceID"]
    ec2 = sb.client("ec2", account=A, region="us-east-1")
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "Owner"}])
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "Project", "Value": "apollo"}])
    drs = sb.client("drs", account=A, region="us-east-1")
    drs.tag_resource(resourceArn=server["arn"], tags={"Team": "dr-ops"})
    assert "Owner" in drs.list_tags_for_resource(resourceArn=server["arn"])["tags"]
    sb.reset_drs_calls()
    # When the tag sync runs
    summary = sb.run_sync("tags")
    # Then the dropped key it had written is removed, the new one added, the foreign key kept
    tags = drs.list_tags_for_resource(resourceArn=server["arn"])["tags"]
    assert "Owner" not in tags and tags["Project"] == "apollo" and tags["Team"] == "dr-ops"
    assert set(PROVENANCE_KEYS) <= set(tags)
    assert summary["serversTagged"] == 1 and summary["tagsAdded"] == 1 and summary["tagsRemoved"] == 1
    assert drs_ops(sb) == Counter({"TagResource": 1, "UntagResource": 1})
    # And the run after that writes nothing again
    sb.reset_drs_calls()
    assert sb.run_sync("tags")["serversTagged"] == 0
    assert drs_ops(sb) == Counter()


ONCE = {"times": 1}


def test_throttling_is_retried_and_a_refused_server_is_counted(sb):
    sb.run_sync("inventory")
    victim = next(s for s in servers(sb, B, "us-west-2"))
    sb.set_faults(
        [
            {"accountId": A, "operation": "TagResource", "error": "ThrottlingException", "times": 6},
            {
                "accountId": B,
                "operation": "UpdateLaunchConfiguration",
                "error": "ResourceNotFoundException",
                "times": 1,
            },
        ]
    )
    summary = sb.run_sync("tags")
    assert summary["status"] == "SUCCEEDED" and summary["errorCount"] == 0, summary
    # every eligible server of A was tagged despite the throttling; one B server's launch configuration
    # could not be written: counted, its tags still written and remembered
    assert summary["skipped"].get("tagError") == 1
    assert all(
        set(PROVENANCE_KEYS) <= set(s["tags"])
        for s in servers(sb, A, "us-east-1")
        if expected_tags(sb, s, A, "us-east-1") is not None
    )
    assert set(PROVENANCE_KEYS) <= set(
        sb.client("drs", account=B, region="us-west-2").list_tags_for_resource(resourceArn=victim["arn"])["tags"]
    )
    # the next run re-checks only that launch configuration
    sb.reset_drs_calls()
    again = sb.run_sync("tags")
    assert again["serversTagged"] == 0 and drs_ops(sb, ("GetLaunchConfiguration", "UpdateLaunchConfiguration")) == (
        Counter({"UpdateLaunchConfiguration": 1})
    )


def test_servers_whose_instances_run_in_another_account(sb):
    sb.run_sync("inventory")
    summary = sb.run_sync("tags")
    # The B servers' tags come from A's EC2 instances: the B item reads them with A's credentials, which the
    # container assumed once for both items (one AssumeRole per account, not per item)
    for s in servers(sb, B, "us-west-2"):
        want = expected_tags(sb, s, B, "us-west-2")
        assert want["source:account"] == A
        assert {k: s["tags"].get(k) for k in want} == want
    assert summary["apiCalls"]["AssumeRole"] == 2  # A and B, whatever the number of items


def test_stale_inventory_falls_back_to_drs_and_a_deleted_server_is_forgotten(sb):
    # Given region status that says A/us-east-1 holds servers but was last scanned an hour ago
    put_status(sb, [status_row(a, r, 0) for a in (A, B) for r in REGIONS])
    put_status(sb, [status_row(A, "us-east-1", 10, success_minutes=60)])
    summary = sb.run_sync("tags")
    # Then the sync lists that pair from DRS (no inventory needed) and tags it
    assert [(w["accountId"], w["region"]) for w in summary["workItems"]] == [(A, "us-east-1")]
    assert summary["counts"]["pairsFromDrs"] == 1 and summary["apiCalls"]["DescribeSourceServers"] == 1
    assert summary["serversTagged"] > 0
    state = [r for r in sb.items("sync-state") if r["pk"] == f"tags#{A}#us-east-1"]
    assert len(state) == summary["serversTagged"]
    assert all(set(PROVENANCE_KEYS) <= set(r["managedKeys"]) for r in state)
    # When a tagged server leaves DRS, the next run forgets what it managed there
    drs = sb.client("drs", account=A, region="us-east-1")
    gone = state[0]["sk"]
    drs.disconnect_source_server(sourceServerID=gone)
    drs.delete_source_server(sourceServerID=gone)
    assert sb.run_sync("tags")["status"] == "SUCCEEDED"
    left = {r["sk"] for r in sb.items("sync-state") if r["pk"] == f"tags#{A}#us-east-1"}
    assert gone not in left and len(left) == len(state) - 1


@pytest.mark.slow
def count_writes(monkeypatch, table: str) -> Counter:
    """PutItem and BatchWriteItem requests naming `table`, as DynamoDB receives them (moto's handler)."""
    from moto.dynamodb.responses import DynamoHandler

    seen: Counter = Counter()
    for operation in ("put_item", "batch_write_item"):
        original = getattr(DynamoHandler, operation)

        def counted(self, original=original, operation=operation):
            body = self.body if isinstance(self.body, dict) else json.loads(self.body)
            if body.get("TableName") == table or table in body.get("RequestItems", {}):
                seen[operation] += 1
            return original(self)

        monkeypatch.setattr(DynamoHandler, operation, counted)
    return seen


def test_more_than_1000_servers_in_a_region(monkeypatch):
    fleet = {
        "seed": 9,
        "accounts": [
            {
                "accountId": A,
                "kind": "target",
                "regions": {"us-east-1": {"sourceServers": 1050, "ec2Backed": 1.0, "copyTags": 1.0}},
            }
        ],
    }
    with Sandbox(fleet=fleet, parameters={"DrsRegions": "us-east-1,eu-west-1"}) as sb:
        put_status(sb, [status_row(A, "us-east-1", 1050, success_minutes=60), status_row(A, "eu-west-1", 0)])
        writes = count_writes(monkeypatch, sb.table_name("sync-state"))
        summary = sb.run_sync("tags", timeout=300)
        assert summary["status"] == "SUCCEEDED" and summary["outcome"] == "complete", summary
        # Every server is tagged: 2 DescribeSourceServers pages, 2 DescribeInstances batches of <= 1,000 ids
        assert summary["serversTagged"] == 1050 and summary["serversSynced"] == 1050
        assert summary["apiCalls"]["DescribeSourceServers"] == 2
        assert summary["apiCalls"]["DescribeInstances"] == 2
        assert summary["apiCalls"]["TagResource"] == 1050
        # copyTags is written once per server without a read first (already on or not: the write is idempotent)
        assert summary["apiCalls"]["UpdateLaunchConfiguration"] == 1050
        assert "GetLaunchConfiguration" not in summary["apiCalls"]
        assert all(set(PROVENANCE_KEYS) <= set(s["tags"]) for s in servers(sb, A, "us-east-1"))
        # each server's tag state in batches of 25 (42 for 1,050), not one PutItem per server; the few PutItems
        # are the run's own (lock, item results, summary, status)
        assert 42 <= writes["batch_write_item"] <= 50 and writes["put_item"] <= 10, writes


def test_direct_invocation_starts_the_tag_sync(sb):
    import json

    lam = sb.client("lambda")
    out = lam.invoke(
        FunctionName=sb.function_name("DataManagementFunction"),
        Payload=json.dumps({"operation": "handle_drs_tag_sync"}).encode(),
    )
    started = json.loads(out["Payload"].read())
    assert started["sync"] == "tags" and ":drs-fleet-sync-tags-sync:" in started["executionArn"]
    assert sb.wait(started["executionArn"])["status"] == "SUCCEEDED"


def test_unknown_input_fails_the_first_state(sb):
    summary = sb.run_sync("tags", input={"dryRun": True})
    assert summary["status"] == "FAILED" and "InvalidSyncInput" in (summary.get("error") or "")


# ------------------------------------------------------------------ properties 1, 5, 11 and 12


PROP_FLEET = {
    "seed": 13,
    "accounts": [
        {"accountId": A, "kind": "target", "regions": {"us-east-1": {"sourceServers": 3, "ec2Backed": 1.0}}},
        {"accountId": B, "kind": "target", "regions": {"eu-west-1": {"sourceServers": 2, "ec2Backed": 1.0}}},
    ],
}
# A role assumption is per account, not per pair: the per-pair cost is the listing
SCAN_OPS = ("DescribeSourceServers",)


@pytest.mark.slow
def test_properties_5_11_12_tag_sync_touches_only_active_pairs():
    pairs = [(a, r) for a in (A, B) for r in REGIONS]
    with Sandbox(fleet=copy.deepcopy(PROP_FLEET), parameters=PARAMS) as sb:
        # The unfiltered cost: every pair scanned (a discovery run), inventory stale everywhere
        put_status(sb, [status_row(a, r, 0, success_minutes=60) for a, r in pairs])
        sb.reset_drs_calls()
        everything = sb.run_sync("tags", input={"mode": "discovery"})
        assert everything["workItemCount"] == len(pairs) and drs_pairs(sb) == set(pairs)
        unfiltered = scan_calls(everything, SCAN_OPS)

        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.sets(st.sampled_from(pairs), min_size=1, max_size=4))
        def check(active):
            # Given a region status table where exactly `active` pairs hold servers (scanned recently)
            put_status(sb, [status_row(a, r, 1 if (a, r) in active else 0, success_minutes=60) for a, r in pairs])
            sb.reset_drs_calls()
            summary = sb.run_sync("tags")
            assert summary["status"] == "SUCCEEDED" and summary["decision"] == "filtered"
            # Property 1/11: DRS is called in exactly the active pairs
            assert {(w["accountId"], w["region"]) for w in summary["workItems"]} == active
            assert drs_pairs(sb) == active
            # Property 12: one role assumption per account in the run (the session tags name the run)
            assert summary["workItemCount"] == len(active)
            assert summary["apiCalls"]["AssumeRole"] == len({a for a, _ in active})
            # Property 5: scan calls fall at least by the share of regions without servers
            active_regions = {r for _, r in active}
            assert scan_calls(summary, SCAN_OPS) <= unfiltered * len(active_regions) / len(REGIONS)
            assert summary["callsSavedVsAllRegions"] == (len(pairs) - len(active)) * 2

        check()
