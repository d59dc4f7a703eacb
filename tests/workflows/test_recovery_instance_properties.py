"""The spec's properties of the recovery-instance sync, on generated fleets run through the whole sandbox
(template, ASL, handlers, moto, DRS simulator). Each example deploys a stack, so examples are few; the
row-level properties run with many examples in tests/unit/layer/test_recovery_instances.py.

- region coverage: every target (account, region) holding servers is scanned, no staging account is;
- data integrity: every row has the required fields and mirrors DRS exactly;
- timestamp ordering: lastSyncTime >= launchTime, and lastSyncTime never goes back across runs;
- idempotency: a second sync with nothing changed writes the same rows and reports no change.
"""

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_sync.syncs.recovery_instances.rows import REQUIRED_FIELDS, content
from fleet_sync.syncs.recovery_instances.status import clear_status_cache
from sandbox import Sandbox

REGIONS = ["eu-west-1", "us-east-1", "us-west-2"]
TARGETS = ["111111111111", "222222222222"]
STAGING = "333333333333"


@st.composite
def region_specs(draw):
    servers = draw(st.integers(0, 10))
    return {
        "sourceServers": servers,
        "recoveryInstances": draw(st.integers(0, servers)),
        "ec2Backed": draw(st.sampled_from([0.0, 0.5, 1.0])),
    }


@st.composite
def fleets(draw):
    accounts = []
    for account in TARGETS[: draw(st.integers(1, 2))]:
        regions = draw(st.dictionaries(st.sampled_from(REGIONS), region_specs(), min_size=1, max_size=3))
        accounts.append({"accountId": account, "kind": "target", "regions": regions})
    if draw(st.booleans()):
        accounts.append({"accountId": STAGING, "kind": "staging", "regions": {"us-east-1": {"sourceServers": 3}}})
    return {"seed": draw(st.integers(0, 1000)), "accounts": accounts}


def truth(sb, fleet):
    """sourceServerID -> (account, region, recoveryInstanceID) over every target pair, from the simulator."""
    out = {}
    for account in (a["accountId"] for a in fleet["accounts"] if a["kind"] == "target"):
        for region in REGIONS:
            drs = sb.client("drs", account=account, region=region)
            if region not in next(a for a in fleet["accounts"] if a["accountId"] == account)["regions"]:
                continue  # never initialized (the fleet's default): DRS holds nothing there
            for page in drs.get_paginator("describe_recovery_instances").paginate(filters={}):
                for ri in page["items"]:
                    out[ri["sourceServerID"]] = (account, region, ri["recoveryInstanceID"])
    return out


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(fleets())
def test_sync_properties_on_generated_fleets(fleet):
    clear_status_cache()
    with Sandbox(fleet=copy.deepcopy(fleet), parameters={"DrsRegions": ",".join(REGIONS)}) as sb:
        sb.run_sync("inventory")  # region status, as the scheduled inventory sync keeps it
        first = sb.run_sync("recovery-instances")
        rows1 = {r["sourceServerID"]: r for r in sb.items("recovery-instances")}
        second = sb.run_sync("recovery-instances")
        rows2 = {r["sourceServerID"]: r for r in sb.items("recovery-instances")}
        expected = truth(sb, fleet)

    assert first["status"] == second["status"] == "SUCCEEDED"
    assert first["outcome"] == "complete", first["errors"]

    # region coverage: every target pair holding servers is scanned; staging accounts never are
    planned = {(w["accountId"], w["region"]) for w in first["workItems"]}
    holding = {
        (a["accountId"], r)
        for a in fleet["accounts"]
        if a["kind"] == "target"
        for r, spec in a["regions"].items()
        if spec["sourceServers"] > 0
    }
    assert holding <= planned
    assert all(account in TARGETS for account, _ in planned)
    assert {(acct, region) for acct, region, _ in expected.values()} <= planned

    # data integrity: exactly DRS's recovery instances, every required field present
    assert {sid: (r["accountId"], r["region"], r["recoveryInstanceID"]) for sid, r in rows1.items()} == expected
    assert all(not [f for f in REQUIRED_FIELDS if r.get(f) in (None, "")] for r in rows1.values())
    assert first["instancesUpdated"] == len(expected) and first["counts"].get("instancesNew", 0) == len(expected)

    # timestamp ordering
    for sid, row in rows2.items():
        if "launchTime" in row:
            assert row["launchTime"] <= rows1[sid]["lastSyncTime"] <= row["lastSyncTime"]

    # idempotency: same rows, same content; the second run reports no change
    assert set(rows2) == set(rows1)
    assert all(content(rows2[sid]) == content(rows1[sid]) for sid in rows1)
    counts = second["counts"]
    assert (counts.get("instancesChanged", 0), counts.get("instancesNew", 0), second["instancesRemoved"]) == (0, 0, 0)
    assert second["instancesUpdated"] == len(expected)
