"""The chaos property: whatever DRS does and however the fleet changes between runs, no sync loses or invents
data, and a clean discovery run converges on the truth.

Each example runs five syncs (inventory, tags, recovery instances, in an order hypothesis picks) over 24
(account, region) pairs, each run under a random fault schedule of DRS, EC2 (the enrichment's reads) and STS
(the role assumptions) faults (throttling past every retry, access denied, server errors, a disabled region,
latency) after random fleet changes (servers added, also in empty regions; servers deleted).
After each run, for every pair:
- inventory: a pair scanned without error holds exactly DRS's servers, and its region status their count, and
  no row loses the EC2 fields it had (a failed EC2 read keeps them); a pair named in `errors` holds exactly
  its rows and counts from before the run; any other pair is untouched;
- tags and recovery instances: the inventory's rows (but for the tags written through) and every pair's
  region status (status, counts, discovery clock) are untouched; the recovery-instance cache of a pair scanned
  without error is DRS's recovery instances, of any other pair what it was;
and after the five runs a discovery run without faults makes every pair the truth.

CI runs a few examples derandomized (a fixed seed, about a minute); `make chaos` runs many random ones
(CHAOS_EXAMPLES, CHAOS_RANDOM=1).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import Sandbox

ACCOUNTS = ["111111111111", "222222222222", "333333333333", "444444444444"]
REGIONS = ["ap-south-1", "eu-west-1", "sa-east-1", "us-east-1", "us-west-1", "us-west-2"]
PAIRS = [(a, r) for a in ACCOUNTS for r in REGIONS]
SYNCS = ("inventory", "tags", "recovery-instances")
RUNS_PER_EXAMPLE = 5
# Every pair starts initialized (empty where no servers are listed): the property is about synced data, and
# a region DRS never initialized is known-empty, not a pair to compare.
FLEET = {
    "seed": 17,
    "accounts": [
        {
            "accountId": ACCOUNTS[0],
            "kind": "target",
            "otherRegions": "initialized",
            "regions": {
                "us-east-1": {"sourceServers": 6, "ec2Backed": 0.5, "recoveryInstances": 2},
                "eu-west-1": {"sourceServers": 3},
            },
        },
        {
            "accountId": ACCOUNTS[1],
            "kind": "target",
            "otherRegions": "initialized",
            "regions": {"us-west-2": {"sourceServers": 4, "ec2Backed": 1.0, "recoveryInstances": 1}},
        },
        {
            "accountId": ACCOUNTS[2],
            "kind": "target",
            "otherRegions": "initialized",
            "regions": {"sa-east-1": {"sourceServers": 2}},
        },
        {"accountId": ACCOUNTS[3], "kind": "target", "otherRegions": "initialized", "regions": {}},
    ],
}
EC2_FIELDS = ("ec2InstanceType", "privateIp", "subnetId", "vpcId")
# Fields of region status that only the inventory may move.
CLOCK = ("status", "serverCount", "replicatingCount", "lastChecked", "lastSuccess", "errorCode")

pair = st.sampled_from(PAIRS)
account = st.sampled_from(ACCOUNTS)
THROTTLED = {"throttleTps": 1e-6, "burst": 1}  # one call, then throttled past every retry (the clock skips waits)
effect = st.one_of(
    st.just({"accessDenied": True}),
    st.just(THROTTLED),
    st.just({"errorRate": 1.0}),
    st.integers(1, 40).map(lambda ms: {"latencyMs": ms}),
)
drs_fault = st.tuples(pair, effect).map(lambda t: {"accountId": t[0][0], "region": t[0][1], **t[1]})
# EC2 of the origin (account, region) the enrichment reads
ec2_fault = st.tuples(pair, effect).map(lambda t: {"service": "ec2", "accountId": t[0][0], "region": t[0][1], **t[1]})
# STS refusing (or slowing) the assumption of one account's role
sts_fault = st.tuples(account, st.one_of(effect, st.just({"error": "RegionDisabledException"}))).map(
    lambda t: {"service": "sts", "accountId": t[0], "operation": "AssumeRole", **t[1]}
)
fault = st.one_of(drs_fault, ec2_fault, sts_fault)
change = st.one_of(
    st.tuples(st.just("add"), pair, st.integers(1, 3)),
    st.tuples(st.just("delete"), pair, st.integers(1, 2)),
)
step = st.fixed_dictionaries(
    {
        "sync": st.sampled_from(SYNCS),
        "faults": st.lists(fault, max_size=6),
        "changes": st.lists(change, max_size=3),
    }
)


@pytest.fixture(scope="module")
def sb():
    with Sandbox(fleet=FLEET, parameters={"DrsRegions": ",".join(REGIONS)}) as box:
        box.run_sync("inventory")  # the estate as first discovered
        yield box


# ------------------------------------------------------------------ what the tables and DRS hold


def drs_servers(sb: Sandbox, account: str, region: str) -> list[dict[str, Any]]:
    drs = sb.client("drs", account=account, region=region)
    return [s for page in drs.get_paginator("describe_source_servers").paginate() for s in page["items"]]


def drs_recovery_servers(sb: Sandbox, account: str, region: str) -> set[str]:
    drs = sb.client("drs", account=account, region=region)
    pages = drs.get_paginator("describe_recovery_instances").paginate()
    return {i["sourceServerID"] for page in pages for i in page["items"]}


def truth(sb: Sandbox) -> dict[tuple[str, str], set[str]]:
    """The source server ids of every pair (read with no faults in place)."""
    return {(a, r): {s["sourceServerID"] for s in drs_servers(sb, a, r)} for a, r in PAIRS}


def inventory_by_pair(sb: Sandbox) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {p: {} for p in PAIRS}
    for row in sb.items("inventory"):
        out.setdefault((row["accountId"], row["replicationRegion"]), {})[row["sourceServerID"]] = row
    return out


def status_by_pair(sb: Sandbox) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["accountId"], r["region"]): r for r in sb.items("region-status")}


def cache_by_pair(sb: Sandbox) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {p: {} for p in PAIRS}
    for row in sb.items("recovery-instances"):
        out.setdefault((row["accountId"], row["region"]), {})[row["sourceServerID"]] = row
    return out


def clock(status: dict[str, Any] | None) -> dict[str, Any]:
    return {k: (status or {}).get(k) for k in CLOCK}


def without_tags(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        sid: {k: v for k, v in row.items() if k not in ("sourceTags", "tagsWrittenAt")} for sid, row in rows.items()
    }


# ------------------------------------------------------------------ fleet changes


def apply_change(sb: Sandbox, kind: str, where: tuple[str, str], n: int) -> None:
    account, region = where
    if kind == "add":
        sb.add_source_servers(account, region, n, ec2_backed=0.5)
        return
    drs = sb.client("drs", account=account, region=region)
    deletable = [s["sourceServerID"] for s in drs_servers(sb, account, region) if not s.get("recoveryInstanceId")]
    for sid in sorted(deletable)[:n]:
        drs.disconnect_source_server(sourceServerID=sid)
        drs.delete_source_server(sourceServerID=sid)


# ------------------------------------------------------------------ the property, per run


def outcome_pairs(summary: dict[str, Any]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(pairs scanned without error, pairs named in errors)."""
    planned = {(w["accountId"], w["region"]) for w in summary["workItems"]}
    failed = {(e["accountId"], e["region"]) for e in summary["errors"]}
    assert failed <= planned, "an error names a pair the run did not plan"
    assert summary["errorCount"] == len(failed)
    return planned - failed, failed


def check_inventory_run(before: dict[str, Any], after: dict[str, Any], summary: dict[str, Any], real) -> None:
    scanned, failed = outcome_pairs(summary)
    for p in PAIRS:
        rows, status = after["inventory"][p], after["status"].get(p)
        if p in scanned:
            assert set(rows) == real[p], f"{p}: scanned, yet its rows are not DRS's servers"
            for sid, old_row in before["inventory"][p].items():
                kept = {f: rows[sid].get(f) for f in EC2_FIELDS if old_row.get(f)} if sid in rows else {}
                assert all(kept.values()), f"{p}: {sid} lost EC2 fields it had"
            assert status is not None and status["serverCount"] == len(real[p]), f"{p}: count is not the truth"
            assert status["status"] == "AVAILABLE"
        else:
            assert rows == before["inventory"][p], f"{p}: {'failed' if p in failed else 'not scanned'}, rows changed"
            old = before["status"].get(p)
            assert (status or {}).get("serverCount") == (old or {}).get("serverCount"), f"{p}: count moved"
            if p not in failed:
                assert clock(status) == clock(old), f"{p}: not scanned, yet its status moved"
    assert after["cache"] == before["cache"], "an inventory run changed the recovery-instance cache"


def check_other_run(before: dict[str, Any], after: dict[str, Any], summary: dict[str, Any], sb: Sandbox) -> None:
    scanned, _failed = outcome_pairs(summary)
    for p in PAIRS:
        assert without_tags(after["inventory"][p]) == without_tags(before["inventory"][p]), f"{p}: rows changed"
        assert clock(after["status"].get(p)) == clock(before["status"].get(p)), f"{p}: discovery clock moved"
        if summary["sync"] == "recovery-instances" and p in scanned:
            assert set(after["cache"][p]) == drs_recovery_servers(sb, *p), f"{p}: cache is not DRS's instances"
        else:
            assert after["cache"][p] == before["cache"][p], f"{p}: cache changed without a successful scan"


def snapshot(sb: Sandbox) -> dict[str, Any]:
    return {"inventory": inventory_by_pair(sb), "status": status_by_pair(sb), "cache": cache_by_pair(sb)}


def run_step(sb: Sandbox, plan: dict[str, Any]) -> None:
    sb.set_faults([])
    for kind, where, n in plan["changes"]:
        apply_change(sb, kind, where, n)
    before = snapshot(sb)
    sb.set_faults(plan["faults"])
    summary = sb.run_sync(plan["sync"])
    sb.set_faults([])  # the truth is read without faults
    assert summary["status"] == "SUCCEEDED", summary
    after = snapshot(sb)
    if plan["sync"] == "inventory":
        check_inventory_run(before, after, summary, truth(sb))
    else:
        check_other_run(before, after, summary, sb)


def check_converges(sb: Sandbox) -> None:
    sb.set_faults([])
    summary = sb.run_sync("inventory", {"mode": "discovery"})
    assert summary["outcome"] == "complete", summary["errors"]
    real, rows, statuses = truth(sb), inventory_by_pair(sb), status_by_pair(sb)
    for p in PAIRS:
        assert set(rows[p]) == real[p], f"{p}: discovery did not converge on DRS's servers"
        assert statuses[p]["serverCount"] == len(real[p])


EXAMPLES = int(os.environ.get("CHAOS_EXAMPLES", "2"))
RANDOM = os.environ.get("CHAOS_RANDOM") == "1"


@settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,  # CI: the same schedules every run; `make chaos`: new ones each time
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plans=st.lists(step, min_size=RUNS_PER_EXAMPLE, max_size=RUNS_PER_EXAMPLE))
def test_no_sync_loses_or_invents_data_under_chaos(sb, plans):
    assert len(PAIRS) >= 20
    for plan in plans:
        run_step(sb, plan)
    check_converges(sb)
