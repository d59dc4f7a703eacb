"""Each sync records its own pair outcome: only the inventory moves a pair's status and discovery clock."""

import copy

from sandbox import Sandbox

REGIONS = ["eu-west-1", "us-east-1"]
TARGET, OTHER = "111111111111", "222222222222"
FLEET = {
    "seed": 3,
    "accounts": [
        {"accountId": TARGET, "kind": "target", "regions": {"us-east-1": {"sourceServers": 3, "recoveryInstances": 1}}},
        {"accountId": OTHER, "kind": "target", "regions": {"us-east-1": {"sourceServers": 2, "ec2Backed": 1.0}}},
    ],
}
CLOCK = ("status", "lastChecked", "lastSuccess", "serverCount", "replicatingCount", "errorCode")


def status_rows(sb):
    return {(r["accountId"], r["region"]): r for r in sb.items("region-status")}


def clocks(sb):
    return {pair: {k: row.get(k) for k in CLOCK} for pair, row in status_rows(sb).items()}


def test_other_syncs_record_their_outcome_without_moving_the_discovery_clock():
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters={"DrsRegions": ",".join(REGIONS)}) as sb:
        sb.run_sync("inventory")
        before = clocks(sb)
        assert before[(TARGET, "us-east-1")]["status"] == "AVAILABLE"
        # When the recovery-instance sync is denied in one pair and succeeds in the other
        sb.set_faults([{"accountId": TARGET, "region": "us-east-1", "accessDenied": True}])
        recovery = sb.run_sync("recovery-instances")
        assert {(e["accountId"], e["region"]) for e in recovery["errors"]} == {(TARGET, "us-east-1")}
        sb.set_faults([])
        sb.run_sync("tags")
        # Then no pair's status, counts or clock moved ...
        assert clocks(sb) == before
        # ... and each sync's own outcome is recorded in its own attribute
        rows = status_rows(sb)
        denied = rows[(TARGET, "us-east-1")]["recoveryInstancesOutcome"]
        assert denied["status"] == "ACCESS_DENIED" and denied["errorCode"] == "AccessDeniedException"
        assert rows[(OTHER, "us-east-1")]["recoveryInstancesOutcome"]["status"] == "AVAILABLE"
        assert rows[(OTHER, "us-east-1")]["tagsOutcome"]["status"] == "AVAILABLE"
        assert "errorCode" not in rows[(OTHER, "us-east-1")]["tagsOutcome"]
        # ... and the next inventory run still plans by the inventory's own clock
        again = sb.run_sync("inventory")
        assert again["decision"] == "filtered" and again["outcome"] == "complete"


def test_an_outcome_never_creates_a_pair_the_inventory_has_not_seen():
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters={"DrsRegions": ",".join(REGIONS)}) as sb:
        sb.run_sync("tags")  # before any inventory run: every pair of every account
        assert status_rows(sb) == {}
        first = sb.run_sync("inventory")
        assert first["decision"] == "fallback_empty"  # discovery is not fooled into "nothing is active"
