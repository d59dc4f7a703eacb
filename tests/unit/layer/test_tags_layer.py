"""The tag sync's pure pieces: desired tags and the change plan (idempotence, only its own keys removed)."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_sync.core.errors import InvalidSyncInput
from fleet_sync.run.models import MAX_WORK_ITEMS_IN_SUMMARY, ItemResult, Pair, RunRecord, parse_sync_input
from fleet_sync.run.registry import sync_spec
from fleet_sync.run.tasks import build_summary
from fleet_sync.syncs.tags.tagging import (
    MAX_TAGS,
    PROVENANCE_KEYS,
    desired_tags,
    plan_tag_change,
    servers_from_drs,
    servers_from_inventory,
)

ORIGIN = ("111111111111", "us-east-1")


def instance(tags, iid="i-0123456789abcdef0", itype="m5.large"):
    return {"InstanceId": iid, "InstanceType": itype, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


def test_desired_tags_drop_aws_keys_and_add_provenance():
    inst = instance({"Name": "web1", "aws:cloudformation:stack-name": "s", "AWS:autoscaling": "x", "Env": "prod"})
    assert desired_tags(inst, ORIGIN, provenance=True) == {
        "source:account": "111111111111",
        "source:region": "us-east-1",
        "source:instance-id": "i-0123456789abcdef0",
        "source:instance-type": "m5.large",
        "Env": "prod",
        "Name": "web1",
    }


def test_desired_tags_without_provenance_are_the_instance_tags():
    inst = instance({"Name": "web1", "source:account": "forged"})
    assert desired_tags(inst, ORIGIN, provenance=False) == {"Name": "web1"}


def test_desired_tags_never_exceed_the_drs_limit_and_keep_provenance():
    inst = instance({f"k{i:02d}": str(i) for i in range(60)})
    out = desired_tags(inst, ORIGIN, provenance=True)
    assert len(out) == MAX_TAGS
    assert set(PROVENANCE_KEYS) <= set(out)


def test_servers_from_drs_and_inventory_agree():
    drs_server = {
        "sourceServerID": "s-1234567890abcdef0",
        "arn": "arn:aws:drs:us-west-2:222222222222:source-server/s-1234567890abcdef0",
        "tags": {"a": "1"},
        "dataReplicationInfo": {"dataReplicationState": "CONTINUOUS"},
        "sourceProperties": {"identificationHints": {"awsInstanceID": "i-0abc"}},
        "sourceCloudProperties": {"originAccountID": "111111111111", "originRegion": "us-east-1"},
    }
    row: dict[str, Any] = {
        "sourceServerID": "s-1234567890abcdef0",
        "arn": drs_server["arn"],
        "sourceTags": {"a": "1"},
        "replicationState": "CONTINUOUS",
        "awsInstanceID": "i-0abc",
        "sourceAccountId": "111111111111",
        "sourceRegion": "us-east-1",
    }
    a = servers_from_drs([drs_server], "222222222222", "us-west-2")
    b = servers_from_inventory({row["sourceServerID"]: row}, "222222222222", "us-west-2")
    assert a == b
    assert a[0].origin == ORIGIN


tag_maps = st.dictionaries(st.sampled_from([f"k{i}" for i in range(8)]), st.sampled_from(["x", "y", "z"]), max_size=8)


def apply(current, change):
    out = {**current, **change.to_set}
    for k in change.to_remove:
        out.pop(k, None)
    return out


@settings(max_examples=500, deadline=None)
@given(current=tag_maps, desired=tag_maps, managed=st.frozensets(st.sampled_from([f"k{i}" for i in range(8)])))
def test_tag_change_reaches_desired_removes_only_managed_keys_and_is_idempotent(current, desired, managed):
    change = plan_tag_change(current, desired, managed)
    after = apply(current, change)
    # Every desired tag is on the server afterwards
    assert all(after.get(k) == v for k, v in desired.items())
    # Only keys this sync manages are ever removed; keys it does not manage keep their value
    assert set(change.to_remove) <= managed
    assert all(after[k] == v for k, v in current.items() if k not in managed and k not in desired)
    # Only what differs is written
    assert all(current.get(k) != v for k, v in change.to_set.items())
    # The keys managed afterwards are desired keys, and include every key written
    assert change.managed_after <= set(desired)
    assert set(change.to_set) <= change.managed_after
    # A second pass over the result writes nothing
    again = plan_tag_change(after, desired, change.managed_after)
    assert not again.changed and again.managed_after == change.managed_after


def test_a_key_someone_else_set_to_the_same_value_is_not_claimed():
    change = plan_tag_change({"Owner": "ops"}, {"Owner": "ops"}, frozenset())
    assert not change.changed and change.managed_after == frozenset()
    # so when the instance later drops the tag, the key stays
    later = plan_tag_change({"Owner": "ops"}, {}, change.managed_after)
    assert later.to_remove == []


def test_the_tag_sync_takes_the_common_input_and_nothing_else():
    model = sync_spec("tags").input_model
    assert parse_sync_input(model, "tags", {"accounts": ["111111111111"], "mode": "discovery"}).mode == "discovery"
    with pytest.raises(InvalidSyncInput, match="dryRun"):
        parse_sync_input(model, "tags", {"dryRun": True})  # the staging sync's option, not the tag sync's


def test_tag_summary_lists_skipped_by_reason_and_calls_saved():
    results = [
        ItemResult(
            accountId="111111111111",
            region="us-east-1",
            status="AVAILABLE",
            ok=True,
            serverCount=5,
            apiCalls={"AssumeRole": 1, "DescribeInstances": 1},
            counts={"serversTagged": 2, "skipped.disconnected": 1, "skipped.notOnEc2": 2},
        )
    ]
    run = RunRecord(
        sync="tags",
        runId="r",
        executionArn="arn",
        decision="filtered",
        workItems=[Pair(accountId="111111111111", region="us-east-1")],
        workItemCount=1,
        pairsTotal=34,
        pairsSkipped=33,
    )
    summary = build_summary(sync_spec("tags"), run, results).dump()
    assert summary["serversTagged"] == 2 and summary["tagsAdded"] == 0
    assert summary["skipped"] == {"disconnected": 1, "notOnEc2": 2}
    assert summary["regionsScanned"] == 1
    assert summary["callsSavedVsAllRegions"] == 33 * 2
    assert summary["serversSynced"] == 5  # the servers the item listed in its pair


def test_regions_scanned_counts_every_result_not_only_the_listed_work_items():
    # Given more work items than the summary lists, the last ones in regions the listed ones are not in
    regions = ["us-east-1", "eu-west-1", "ap-south-1"]
    pairs = [(f"{i:012d}", "us-east-1") for i in range(MAX_WORK_ITEMS_IN_SUMMARY)] + [
        ("999999999999", r) for r in regions[1:]
    ]
    results = [ItemResult(accountId=a, region=r, status="AVAILABLE", ok=True, serverCount=0) for a, r in pairs]
    run = RunRecord(
        sync="tags",
        runId="r",
        executionArn="arn",
        decision="discovery",
        workItems=[Pair(accountId=a, region=r) for a, r in pairs[:MAX_WORK_ITEMS_IN_SUMMARY]],
        workItemCount=len(pairs),
        pairsTotal=len(pairs),
        pairsSkipped=0,
    )
    summary = build_summary(sync_spec("tags"), run, results).dump()
    assert len(summary["workItems"]) == MAX_WORK_ITEMS_IN_SUMMARY
    assert summary["regionsScanned"] == 3
