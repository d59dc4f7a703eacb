"""Inventory queries, per-pair freshness with DRS fallback, and failback topology (properties 4, 10, 13)."""

import copy
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_sync.core import aws
from fleet_sync.syncs.inventory.queries import ServerNotFound
from fleet_sync.syncs.inventory.refresh import get_failback_topology, is_inventory_fresh, query_inventory
from sandbox import Sandbox
from sandbox.drs.jobs import JOB_SECONDS
from tests.sandbox_support import age_pair

TARGET, STAGING = "111111111111", "333333333333"
FLEET = {
    "seed": 11,
    "accounts": [
        {
            "accountId": TARGET,
            "kind": "target",
            "stagingAccounts": [STAGING],
            "regions": {
                "us-east-1": {"sourceServers": 8, "ec2Backed": 1.0, "originRegion": "us-west-2"},
                "eu-west-1": {"sourceServers": 3},
                "us-west-2": {},  # initialized and empty: where failover and reverse replication go
            },
        },
        {"accountId": STAGING, "kind": "staging", "regions": {"us-east-1": {"sourceServers": 4}}},
    ],
}


@pytest.fixture()
def sb():
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters={"DrsRegions": "eu-west-1,us-east-1,us-west-2"}) as box:
        box.run_sync("inventory")
        yield box


def row_of(sb, server_id):
    return next(r for r in sb.items("inventory") if r["sourceServerID"] == server_id)


class DynamoCalls:
    """Counts the DynamoDB operations the layer's DynamoDB client sends, by (operation, table)."""

    def __init__(self):
        self.calls: Counter[tuple[str, str | None]] = Counter()

    def __enter__(self):
        self.events = aws.dynamodb().meta.client.meta.events
        self.events.register("before-parameter-build.dynamodb", self._count)
        return self

    def _count(self, model=None, params=None, **_):
        self.calls[(model.name, (params or {}).get("TableName"))] += 1

    def __exit__(self, *exc):
        self.events.unregister("before-parameter-build.dynamodb", self._count)


def test_topology_is_captured_on_first_sight(sb):
    drs = sb.client("drs", account=TARGET, region="us-east-1")
    template = drs.describe_replication_configuration_templates()["items"][0]["replicationConfigurationTemplateID"]
    server = drs.describe_source_servers()["items"][0]["sourceServerID"]
    row = row_of(sb, server)
    assert (row["originalSourceRegion"], row["originalAccountId"], row["originalReplicationConfigTemplateId"]) == (
        "us-east-1",
        TARGET,
        template,
    )
    assert get_failback_topology(server)["originalSourceRegion"] == "us-east-1"


def test_later_writes_never_replace_the_original_topology(sb):
    drs = sb.client("drs", account=TARGET, region="us-east-1")
    server = drs.describe_source_servers()["items"][0]
    # Given a row whose topology was captured elsewhere, long ago
    sb.client("dynamodb").update_item(
        TableName=sb.table_name("inventory"),
        Key={"accountRegion": {"S": f"{TARGET}#us-east-1"}, "sourceServerID": {"S": server["sourceServerID"]}},
        UpdateExpression="SET originalSourceRegion = :r",
        ExpressionAttributeValues={":r": {"S": "us-west-2"}},
    )
    # When the server changes and both write paths rewrite its row
    drs.tag_resource(resourceArn=server["arn"], tags={"Owner": "team-a"})
    summary = sb.run_sync("inventory")
    assert summary["serversWritten"] == 1
    assert row_of(sb, server["sourceServerID"])["sourceTags"]["Owner"] == "team-a"
    drs.tag_resource(resourceArn=server["arn"], tags={"Owner": "team-b"})
    age_pair(sb, TARGET, "us-east-1")
    query_inventory(["us-east-1"])
    row = row_of(sb, server["sourceServerID"])
    # Then the data is fresh and the original topology is the one first recorded
    assert row["sourceTags"]["Owner"] == "team-b"
    assert row["originalSourceRegion"] == "us-west-2"


def test_topology_survives_failover_and_reverse_replication(sb):
    drs = sb.client("drs", account=TARGET, region="us-east-1")
    original = drs.describe_source_servers()["items"][0]
    before = row_of(sb, original["sourceServerID"])
    # Fail over, then reverse replication: DRS creates a new source server for the way back
    job = drs.start_recovery(sourceServers=[{"sourceServerID": original["sourceServerID"]}], isDrill=False)["job"]
    sb.advance(JOB_SECONDS["LAUNCH"])  # DRS jobs are asynchronous
    (job,) = drs.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"]
    recovery_id = job["participatingServers"][0]["recoveryInstanceID"]
    reversed_arn = drs.reverse_replication(recoveryInstanceID=recovery_id)["reversedDirectionSourceServerArn"]
    _, _, _, region, account, rest = reversed_arn.split(":", 5)
    sb.run_sync("inventory", input={"mode": "discovery"})
    failback = get_failback_topology(rest.split("/", 1)[1])
    # The failback server points to where replication was originally configured
    assert failback["replicationDirection"] == "FAILBACK"
    assert (failback["originalSourceRegion"], failback["originalAccountId"]) == (
        before["originalSourceRegion"],
        before["originalAccountId"],
    )
    assert failback["originalReplicationConfigTemplateId"] == before["originalReplicationConfigTemplateId"]
    assert (failback["currentRegion"], failback["currentAccountId"]) == (region, account)


def test_failback_topology_of_legacy_and_unknown_servers(sb):
    server = sb.items("inventory")[0]
    sb.client("dynamodb").update_item(
        TableName=sb.table_name("inventory"),
        Key={"accountRegion": {"S": server["accountRegion"]}, "sourceServerID": {"S": server["sourceServerID"]}},
        UpdateExpression="REMOVE originalSourceRegion, originalAccountId",
    )
    legacy = get_failback_topology(server["sourceServerID"])
    assert legacy["originalSourceRegion"] is None and "legacy" in legacy["warning"]
    with pytest.raises(ServerNotFound):
        get_failback_topology("s-00000000000000000")


def test_stale_pairs_alone_fall_back_to_drs_and_are_written_back(sb):
    # Given one stale pair among fresh ones
    assert is_inventory_fresh(15)
    age_pair(sb, TARGET, "eu-west-1")
    assert not is_inventory_fresh(15)
    drs = sb.client("drs", account=TARGET, region="eu-west-1")
    changed = drs.describe_source_servers()["items"][0]
    drs.tag_resource(resourceArn=changed["arn"], tags={"Tier": "gold"})
    sb.reset_drs_calls()
    # When servers of every active region are queried
    result = query_inventory(["us-east-1", "eu-west-1"])
    # Then DRS is read for the stale pair only, the fresh data is returned and written back
    described = {
        (c["accountId"], c["region"]) for c in sb.drs_calls()["calls"] if c["operation"] == "DescribeSourceServers"
    }
    assert described == {(TARGET, "eu-west-1")}
    assert result.source == "inventory+drs" and result.stale_pairs == [(TARGET, "eu-west-1")]
    assert len(result.servers) == 8 + 3 + 4
    assert next(s for s in result.servers if s["sourceServerID"] == changed["sourceServerID"])["sourceTags"] == {
        **changed["tags"],
        "Tier": "gold",
    }
    assert row_of(sb, changed["sourceServerID"])["sourceTags"]["Tier"] == "gold"
    assert is_inventory_fresh(15)


def test_queries_use_indexes_never_a_scan(sb):
    with DynamoCalls() as ddb:
        all_rows = query_inventory(["us-east-1", "eu-west-1"]).servers
        staged = query_inventory(["us-east-1"], {"stagingAccountId": STAGING}).servers
        by_source = query_inventory(["us-east-1"], {"sourceAccountId": TARGET}).servers
        continuous = query_inventory(["us-east-1", "eu-west-1"], {"replicationState": "CONTINUOUS"}).servers
        eu_host = next(r["hostname"] for r in all_rows if r["replicationRegion"] == "eu-west-1")
        named = query_inventory(["eu-west-1"], {"hostname": eu_host[:6]}).servers
    inventory = sb.table_name("inventory")
    assert ("Scan", inventory) not in ddb.calls and ddb.calls[("Query", inventory)] >= 5
    assert len(all_rows) == 15
    assert {r["accountId"] for r in staged} == {STAGING}
    assert all(r["sourceAccountId"] == TARGET for r in by_source) and by_source
    assert all(r["replicationState"] == "CONTINUOUS" for r in continuous)
    assert named and all(eu_host[:6] in r["hostname"] for r in named)
    with pytest.raises(ValueError, match="unknown inventory filters"):
        query_inventory(["us-east-1"], {"tag": "x"})


def test_property_13_topology_is_preserved_across_any_sequence_of_updates(sb):
    drs = sb.client("drs", account=TARGET, region="us-east-1")
    servers = drs.describe_source_servers()["items"]
    first_seen = {
        r["sourceServerID"]: {
            k: r[k] for k in ("originalSourceRegion", "originalAccountId", "originalReplicationConfigTemplateId")
        }
        for r in sb.items("inventory")
    }

    @settings(max_examples=6, deadline=None)
    @given(
        st.lists(
            st.tuples(st.sampled_from(["tag", "sync", "fallback"]), st.integers(0, len(servers) - 1)),
            min_size=1,
            max_size=4,
        )
    )
    def check(steps):
        for action, i in steps:
            if action == "tag":
                drs.tag_resource(resourceArn=servers[i]["arn"], tags={"Step": f"{action}-{i}"})
            elif action == "sync":
                sb.run_sync("inventory")
            else:
                age_pair(sb, TARGET, "us-east-1")
                query_inventory(["us-east-1"])
        for row in sb.items("inventory"):
            assert {k: row[k] for k in first_seen[row["sourceServerID"]]} == first_seen[row["sourceServerID"]]

    check()


def test_a_fallback_read_enriches_from_other_accounts_with_their_own_external_id():
    # Given servers whose EC2 instances run in another account that requires its own ExternalId
    origin = "444444444444"
    fleet = {
        "seed": 12,
        "accounts": [
            {
                "accountId": TARGET,
                "kind": "target",
                "externalId": "ext-target",
                "regions": {"us-east-1": {"sourceServers": 3, "ec2Backed": 1.0, "originAccountId": origin}},
            },
            {"accountId": origin, "kind": "target", "externalId": "ext-origin", "allowedDrsAccounts": [TARGET]},
        ],
    }
    with Sandbox(fleet=fleet, parameters={"DrsRegions": "us-east-1"}) as sb:
        sb.run_sync("inventory")
        assert all(r.get("ec2InstanceType") for r in sb.items("inventory"))
        # When the pair goes stale and a query reads it from DRS and writes it back
        age_pair(sb, TARGET, "us-east-1")
        result = query_inventory(["us-east-1"])
        # Then the origin account was assumed with its own ExternalId: the EC2 details are still there
        assert result.refreshed_pairs == [(TARGET, "us-east-1")] and not result.failed_pairs
        assert all(r.get("ec2InstanceType") for r in sb.items("inventory"))


def test_a_refresh_never_writes_back_while_an_inventory_run_holds_the_lock(sb):
    # Given a stale pair and another writer holding the inventory's lock
    from fleet_sync.run.sync_state import SyncStateStore

    state = SyncStateStore(aws.dynamodb().Table(sb.table_name("sync-state")))
    assert state.try_lock_for_invocation("inventory", "a-running-sync-stand-in")
    age_pair(sb, TARGET, "eu-west-1")
    before = [r for r in sb.items("inventory") if r["replicationRegion"] == "eu-west-1"]
    added = sb.add_source_servers(TARGET, "eu-west-1", 2)
    # When the API's fallback reads the pair from DRS
    result = query_inventory(["eu-west-1"])
    # Then it serves what DRS says, but writes nothing the run could be rolled back by
    assert result.refreshed_pairs == [(TARGET, "eu-west-1")]
    assert set(added) <= {s["sourceServerID"] for s in result.servers}
    assert [r for r in sb.items("inventory") if r["replicationRegion"] == "eu-west-1"] == before
    # ... and once the lock is free it writes back, and lets go of the lock
    assert state.release_invocation_lock("inventory", "a-running-sync-stand-in")
    query_inventory(["eu-west-1"])
    assert set(added) <= {r["sourceServerID"] for r in sb.items("inventory")}
    assert state.lock("inventory") is None


def test_an_inventory_run_waits_for_a_refresh_that_holds_the_lock(sb):
    from fleet_sync.run.sync_state import SyncStateStore

    state = SyncStateStore(aws.dynamodb().Table(sb.table_name("sync-state")))
    assert state.try_lock_for_invocation("inventory", "refresh-1")
    skipped = sb.run_sync("inventory")
    assert skipped["outcome"] == "skipped"
    assert not state.try_lock_for_invocation("inventory", "refresh-2")  # one writer at a time
    assert state.release_invocation_lock("inventory", "refresh-1")
    assert sb.run_sync("inventory")["outcome"] == "complete"
