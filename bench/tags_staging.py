"""Tag sync and staging-account auto-extend: filtered vs unfiltered vs the lower bound, measured.

Fleet: 3 target + 1 staging accounts, servers in 4 of the SDK's 34 DRS regions (a smaller cousin of
events/fleets/bench.yaml, so that the unfiltered runs - every account x every region - stay within a minute).
Region status is seeded as the inventory sync leaves it, but with every pair's last successful scan an hour
old: the tag sync then lists servers from DRS (its worst case). A last tag run after a fresh inventory shows
the hourly steady state, where the servers come from the inventory.

- unfiltered = the same state machine with input {"mode": "discovery"}: every (account, region) pair;
- lower bound = one DescribeInstances call per 1,000 instances per origin (account, region) and writes only
  for changes (tag sync); one ListExtensibleSourceServers page per 300 servers per (target, region, staging
  account) where the staging account has servers, and one CreateExtendedSourceServer per server not yet
  extended (staging sync).
Wall times are in-process (moto + simulator + local Lambdas): compare them with each other only.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from fleet_sync.core.clock import iso
from fleet_sync.core.regions import drs_regions
from fleet_sync.run.region_status import invalidate_region_cache
from sandbox import Sandbox

A, B, C, S = "111111111111", "222222222222", "333333333333", "444444444444"
ACTIVE = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")
FLEET: dict[str, Any] = {
    "seed": 11,
    "accounts": [
        {
            "accountId": A,
            "kind": "target",
            "stagingAccounts": [S],
            "regions": {
                "us-east-1": {"sourceServers": 30, "ec2Backed": 0.6, "disconnected": 2, "extendedFrom": {S: 5}},
                "us-west-2": {"sourceServers": 25, "ec2Backed": 0.6, "copyTags": 0.5, "tagged": 0.3},
                "eu-west-1": {"sourceServers": 20, "ec2Backed": 0.6},
                "ap-southeast-2": {"sourceServers": 10, "ec2Backed": 0.6},
            },
        },
        {
            "accountId": B,
            "kind": "target",
            "regions": {
                "us-east-1": {"sourceServers": 25, "ec2Backed": 0.6, "originAccountId": A},
                "us-west-2": {"sourceServers": 20, "ec2Backed": 0.6},
                "eu-west-1": {"sourceServers": 15, "ec2Backed": 0.6, "disconnected": 2},
                "ap-southeast-2": {"sourceServers": 10, "ec2Backed": 0.6},
            },
        },
        {
            "accountId": C,
            "kind": "target",
            "stagingAccounts": [S],
            "regions": {
                "us-east-1": {"sourceServers": 20, "ec2Backed": 0.6},
                "us-west-2": {"sourceServers": 15, "ec2Backed": 0.6, "extendedFrom": {S: 3}},
                "eu-west-1": {"sourceServers": 15, "ec2Backed": 0.6},
                "ap-southeast-2": {"sourceServers": 10, "ec2Backed": 0.6},
            },
        },
        {
            "accountId": S,
            "kind": "staging",
            "regions": {
                "us-east-1": {"sourceServers": 20, "ec2Backed": 0.5},
                "us-west-2": {"sourceServers": 15, "ec2Backed": 0.5},
                "eu-west-1": {"sourceServers": 10, "ec2Backed": 0.5},
            },
        },
    ],
}
TAG_WRITES = ("TagResource", "UntagResource", "UpdateLaunchConfiguration")
DRS_EC2 = "DRS+EC2 calls"


def _seed_status(sb: Sandbox, regions: list[str]) -> None:
    """Every pair's row, as an inventory run an hour ago would have left it (checked a minute ago)."""
    counts: Counter[tuple[str, str]] = Counter()
    for acct in FLEET["accounts"]:
        for region in regions:
            counts[(acct["accountId"], region)] = len(sb.engine.source_servers(acct["accountId"], region))
    now = datetime.now(UTC)
    ddb, ser = sb.client("dynamodb"), TypeSerializer()
    for (account, region), n in counts.items():
        item = {
            "accountId": account,
            "region": region,
            "status": "AVAILABLE",
            "serverCount": n,
            "replicatingCount": n,
            "lastChecked": iso(now - timedelta(minutes=1)),
            "lastSuccess": iso(now - timedelta(hours=1)),
        }
        ddb.put_item(TableName=sb.table_name("region-status"), Item={k: ser.serialize(v) for k, v in item.items()})
    invalidate_region_cache()


def _run(sb: Sandbox, sync: str, input: dict[str, Any] | None = None) -> dict[str, Any]:
    sb.reset_drs_calls()
    started = time.perf_counter()
    summary = sb.run_sync(sync, input=input, timeout=300)
    wall = time.perf_counter() - started
    if summary.get("status") != "SUCCEEDED":
        raise RuntimeError(f"{sync} run failed: {summary}")
    calls = Counter(summary["apiCalls"])
    return {
        "summary": summary,
        "wall": wall,
        "calls": calls,
        "drs_ec2": sum(n for op, n in calls.items() if op != "AssumeRole"),
        "assume": calls.get("AssumeRole", 0),
        "writes": sum(calls.get(op, 0) for op in (*TAG_WRITES, "CreateExtendedSourceServer")),
    }


def _eligible(sb: Sandbox) -> tuple[list[dict[str, Any]], Counter[tuple[str, str]]]:
    """Servers the tag sync must tag (EC2-backed, not disconnected) and instances per origin pair."""
    servers: list[dict[str, Any]] = []
    origins: Counter[tuple[str, str]] = Counter()
    for acct in FLEET["accounts"]:
        for region in ACTIVE:
            for s in sb.engine.source_servers(acct["accountId"], region):
                hints = s["sourceProperties"]["identificationHints"]
                if "awsInstanceID" not in hints or s["dataReplicationInfo"]["dataReplicationState"] == "DISCONNECTED":
                    continue
                scp = s.get("sourceCloudProperties") or {}
                origins[(scp.get("originAccountID", acct["accountId"]), scp.get("originRegion", region))] += 1
                servers.append({**s, "_account": acct["accountId"], "_region": region})
    return servers, origins


def _tag_lower_bound(sb: Sandbox, first: bool) -> int:
    servers, origins = _eligible(sb)
    reads = sum(math.ceil(n / 1000) for n in origins.values())
    if not first:
        return reads
    # every eligible server lacks the provenance tags before the first run; copyTags where it is off
    copy_off = sum(
        1
        for s in servers
        if not sb.engine.launch_configuration(s["_account"], s["_region"], s["sourceServerID"]).get("copyTags")
    )
    return reads + len(servers) + copy_off


def _staging_lower_bound(sb: Sandbox, first: bool) -> int:
    total = 0
    for acct in FLEET["accounts"]:
        for staging in acct.get("stagingAccounts", []):
            for region in ACTIVE:
                staged = sb.engine.source_servers(staging, region)
                if not staged:
                    continue
                extended = {
                    s["stagingArea"].get("stagingSourceServerArn")
                    for s in sb.engine.source_servers(acct["accountId"], region)
                }
                todo = [s for s in staged if s["arn"] not in extended]
                total += max(1, math.ceil(len(todo) / 300)) + (len(todo) if first else 0)
    return total


def _row(label: str, filtered: dict[str, Any], unfiltered: dict[str, Any] | None, bound: int) -> list[Any]:
    f = filtered["drs_ec2"]
    u = unfiltered["drs_ec2"] if unfiltered else "-"
    return [
        label,
        f"{f} (+{filtered['assume']} STS)",
        f"{u} (+{unfiltered['assume']} STS)" if unfiltered else "-",
        bound,
        f"{filtered['wall']:.1f} s",
        f"{unfiltered['wall']:.1f} s" if unfiltered else "-",
    ]


def bench_tags_staging() -> dict[str, Any]:
    regions = drs_regions()
    with Sandbox(fleet=FLEET) as sb:
        _seed_status(sb, regions)
        # ---- tag sync
        tag_first_bound = _tag_lower_bound(sb, first=True)
        tags_first = _run(sb, "tags")
        tags_steady_bound = _tag_lower_bound(sb, first=False)
        tags_steady = _run(sb, "tags")
        tags_all = _run(sb, "tags", {"mode": "discovery"})
        sb.run_sync("inventory", timeout=300)  # fresh inventory for the active pairs
        tags_inventory = _run(sb, "tags")
        # ---- staging sync
        staging_first_bound = _staging_lower_bound(sb, first=True)
        staging_first = _run(sb, "staging")
        staging_steady_bound = _staging_lower_bound(sb, first=False)
        staging_steady = _run(sb, "staging")
        staging_all = _run(sb, "staging", {"mode": "discovery"})
    n_regions = len(regions)
    active_share = len(ACTIVE) / n_regions

    def scan(r: dict[str, Any]) -> int:
        """Calls that grow with the pairs scanned: listing, plus the one AssumeRole of each work item (the
        AssumeRoles into the accounts where instances run are EC2 reads, the same filtered or not)."""
        listing = r["calls"].get("DescribeSourceServers", 0) + r["calls"].get("ListExtensibleSourceServers", 0)
        return listing + r["summary"]["workItemCount"]

    rows = [
        _row("tags, first run (writes)", tags_first, None, tag_first_bound),
        _row("tags, steady, servers from DRS", tags_steady, tags_all, tags_steady_bound),
        _row("tags, steady, servers from inventory", tags_inventory, None, tags_steady_bound),
        _row("staging, first run (extends)", staging_first, None, staging_first_bound),
        _row("staging, steady", staging_steady, staging_all, staging_steady_bound),
    ]
    notes = [
        f"tag sync first run: {tags_first['summary']['serversTagged']} servers tagged, "
        f"{tags_first['summary']['tagsAdded']} tags added, skipped {tags_first['summary']['skipped']}; "
        f"calls {dict(sorted(tags_first['calls'].items()))}",
        f"tag sync steady runs: writes {tags_steady['writes']} (servers from DRS), {tags_inventory['writes']} "
        f"(from inventory); steady from DRS: {dict(sorted(tags_steady['calls'].items()))}",
        f"staging first run: {staging_first['summary']['serversExtended']} servers extended, "
        f"AssumeRole {staging_first['assume']} == work items {staging_first['summary']['workItemCount']}",
        f"scan calls (DescribeSourceServers/ListExtensibleSourceServers + one AssumeRole per work item) saved vs "
        f"unfiltered: "
        f"tags {100 * (1 - scan(tags_steady) / scan(tags_all)):.1f}%, staging "
        f"{100 * (1 - scan(staging_steady) / scan(staging_all)):.1f}% "
        f"(goal >= {100 * (1 - active_share):.1f}% = 1 - active/all regions)",
        f"work items filtered/unfiltered: tags {tags_steady['summary']['workItemCount']}/"
        f"{tags_all['summary']['workItemCount']}, staging {staging_steady['summary']['workItemCount']}/"
        f"{staging_all['summary']['workItemCount']}",
        "excess over the lower bound: the steady run over DRS lists servers (DescribeSourceServers, stale"
        " inventory; none with a fresh inventory); an origin (account, region) read by two work items (instances"
        " of another account's DRS servers, extended servers) costs one DescribeInstances per item; the first"
        " tag run sets copyTags once per server (UpdateLaunchConfiguration, unread), later runs do not",
    ]
    return {
        "title": f"Tag sync and staging auto-extend: filtered vs unfiltered vs lower bound "
        f"({len(ACTIVE)} of {n_regions} regions active, 4 accounts)",
        "headers": [
            "run",
            DRS_EC2 + " filtered",
            DRS_EC2 + " unfiltered",
            "lower bound",
            "wall filtered",
            "wall unfiltered",
        ],
        "rows": rows,
        "notes": notes,
        "figures": {
            "tags": {
                "first": dict(tags_first["calls"]),
                "steadyFromDrs": dict(tags_steady["calls"]),
                "steadyFromInventory": dict(tags_inventory["calls"]),
                "unfiltered": dict(tags_all["calls"]),
                "wallFiltered": round(tags_steady["wall"], 2),
                "wallUnfiltered": round(tags_all["wall"], 2),
            },
            "staging": {
                "first": dict(staging_first["calls"]),
                "steady": dict(staging_steady["calls"]),
                "unfiltered": dict(staging_all["calls"]),
                "wallFiltered": round(staging_steady["wall"], 2),
                "wallUnfiltered": round(staging_all["wall"], 2),
            },
        },
    }


if __name__ == "__main__":
    import json

    out = bench_tags_staging()
    print(json.dumps({k: v for k, v in out.items() if k != "figures"}, indent=2, default=str))
