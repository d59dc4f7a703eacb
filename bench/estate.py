"""The six-step estate: inventory, tags and staging, first on a new deployment and then in a steady state, on
one sandbox (the tag/staging bench's fleet: 3 target + 1 staging accounts, servers in 4 of the 34 regions),
and the all-regions scan ratio: the first inventory run scans every region (it knows none yet), the steady
one only the pairs that hold servers.

Calls are counted by the product (each summary's apiCalls) and split DRS / EC2 / STS, the way the
predecessor comparison counts them; every step must end SUCCEEDED. Beside each step stands its lower bound,
computed from what the simulator holds when the step starts (`lower_bound`):

- **STS**: one AssumeRole per account the step must act in (the accounts of its pairs; for EC2 reads also the
  trusted origin accounts where instances run), once per run.
- **inventory, DRS**: per pair it must scan, one DescribeSourceServers per 1,000 servers (at least one: an
  empty or uninitialized pair answers once), and one DescribeReplicationConfigurationTemplates per pair that
  holds servers. A first run knows nothing, so it must scan every pair in scope; a steady run only the pairs
  that hold servers. **EC2**: one DescribeInstances per 1,000 EC2-backed instances per origin (account, region).
- **tags**: the servers come from the inventory (no DRS read); one DescribeInstances per 1,000 instances per
  origin pair; one tag write per server whose tags the step changed and one copyTags write per server it
  turned copyTags on for (both seen in the simulator, before and after the step).
- **staging**: as bench/tags_staging.py defines it: one ListExtensibleSourceServers page per 300 servers per
  (target, region, staging account) where the staging account has servers, one CreateExtendedSourceServer per
  server not yet extended.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

from bench.tags_staging import ACTIVE, FLEET, _eligible, _staging_lower_bound
from fleet_sync.core.regions import drs_regions
from sandbox import Sandbox

STEPS = [(phase, sync) for phase in ("first", "steady") for sync in ("inventory", "tags", "staging")]
PAGE = 1000  # DescribeSourceServers page and DescribeInstances batch


def split(calls: dict[str, int]) -> tuple[int, int, int]:
    """(DRS, EC2, STS) calls of a summary's apiCalls."""
    c = Counter(calls)
    sts = c.get("AssumeRole", 0)
    ec2 = sum(n for op, n in c.items() if op.startswith("DescribeInstances"))
    return sum(c.values()) - ec2 - sts, ec2, sts


def _accounts(kind: str | None = None) -> list[str]:
    return [a["accountId"] for a in FLEET["accounts"] if kind is None or a["kind"] == kind]


def _ec2_reads(origins: Counter[tuple[str, str]]) -> int:
    return sum(math.ceil(n / PAGE) for n in origins.values())


def _inventory_bound(sb: Sandbox, first: bool) -> tuple[int, int, int]:
    regions = drs_regions() if first else list(ACTIVE)
    drs = 0
    for account in _accounts():
        for region in regions:
            servers = len(sb.engine.source_servers(account, region))
            if servers or first:
                drs += max(1, math.ceil(servers / PAGE)) + (1 if servers else 0)
    _, origins = _eligible(sb)
    acting = {a for a in _accounts() if any(sb.engine.source_servers(a, r) for r in regions) or first}
    return drs, _ec2_reads(origins), len(acting | {account for account, _ in origins})


def _tags_bound(sb: Sandbox, before: dict[str, Any]) -> tuple[int, int, int]:
    """EC2 reads per origin pair, one tag write per server whose tags the step changed and one copyTags write
    per server the step turned it on for (both seen in the simulator)."""
    servers, origins = _eligible(sb)
    after = _server_tags(sb)
    changed = sum(1 for server, tags in after.items() if tags != before["tags"].get(server))
    copy_off = sum(
        1
        for s in servers
        if s["sourceServerID"] in before["copyTagsOff"]
        and sb.engine.launch_configuration(s["_account"], s["_region"], s["sourceServerID"]).get("copyTags")
    )
    holding = {a for a in _accounts() if any(sb.engine.source_servers(a, r) for r in ACTIVE)}
    return changed + copy_off, _ec2_reads(origins), len(holding | {account for account, _ in origins})


def _server_tags(sb: Sandbox) -> dict[str, dict[str, str]]:
    return {
        s["sourceServerID"]: dict(s.get("tags") or {})
        for a in _accounts()
        for r in ACTIVE
        for s in sb.engine.source_servers(a, r)
    }


def snapshot(sb: Sandbox) -> dict[str, Any]:
    """What the bounds compare a step's end with: every server's tags and which servers have copyTags off."""
    servers, _ = _eligible(sb)
    off = {
        s["sourceServerID"]
        for s in servers
        if not sb.engine.launch_configuration(s["_account"], s["_region"], s["sourceServerID"]).get("copyTags")
    }
    return {"tags": _server_tags(sb), "copyTagsOff": off}


def _staging_bound(sb: Sandbox, first: bool) -> tuple[int, int, int]:
    targets = [a["accountId"] for a in FLEET["accounts"] if a.get("stagingAccounts")]
    return _staging_lower_bound(sb, first), 0, len(targets)


def lower_bound(sb: Sandbox, sync: str, first: bool, before: dict[str, Any]) -> tuple[int, int, int]:
    """(DRS, EC2, STS) calls the step could not do without (the module docstring defines each), from the
    simulator at the step's end and `before`, its snapshot at the step's start."""
    if sync == "tags":
        return _tags_bound(sb, before)
    return before["bound"]


def _fmt(calls: tuple[int, int, int]) -> str:
    return "/".join(str(n) for n in calls)


def _step(sb: Sandbox, sync: str, input: dict[str, Any] | None = None) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    summary = sb.run_sync(sync, input=input, timeout=600)
    if summary.get("status") != "SUCCEEDED":
        raise RuntimeError(f"{sync} failed: {summary}")
    return summary, time.perf_counter() - started


def bench_estate() -> dict[str, Any]:
    rows: list[list[Any]] = []
    total = bound_total = 0
    summaries: dict[tuple[str, str], dict[str, Any]] = {}
    failed: list[str] = []  # a step that is not complete does less than its bound: its count means nothing
    with Sandbox(fleet=FLEET, parameters={"LogLevel": "WARNING"}) as sb:
        for phase, sync in STEPS:
            first = phase == "first"
            before = snapshot(sb)
            if sync != "tags":  # what they must read and write is known before they run
                before["bound"] = (_inventory_bound if sync == "inventory" else _staging_bound)(sb, first)
            summary, wall = _step(sb, sync)
            bound = lower_bound(sb, sync, first, before)
            summaries[(phase, sync)] = summary
            calls = split(summary["apiCalls"])
            total, bound_total = total + sum(calls), bound_total + sum(bound)
            ratio = f"{sum(calls) / sum(bound):.2f}x" if sum(bound) else "-"
            outcome = summary["outcome"]
            item = [summary["workItemCount"], outcome, f"{wall:.1f} s"]
            rows.append([f"{sync}, {phase}", _fmt(calls), _fmt(bound), ratio, *item])
            failed += [f"{sync}, {phase}: {e['accountId']}/{e['region']} {e['code']}" for e in summary["errors"]]
    rows.append(["all six", total, bound_total, f"{total / bound_total:.2f}x", "", "", ""])
    # the first inventory run knows no region yet: it scans every pair (the fallback), as discovery does
    steady, everywhere = summaries[("steady", "inventory")], summaries[("first", "inventory")]
    scanned = split(steady["apiCalls"])[0], split(everywhere["apiCalls"])[0]
    pairs = steady["workItemCount"], everywhere["workItemCount"]
    return {
        "title": "Six-step estate: calls DRS/EC2/STS per step (first run, then steady) beside the lower bound",
        "headers": ["step", "calls DRS/EC2/STS", "lower bound", "calls / bound", "work items", "outcome", "wall"],
        "rows": rows,
        "notes": [
            "lower bound: bench/estate.py's docstring defines it per step (per pair scanned one"
            " DescribeSourceServers per 1,000 servers, the template where servers are, one DescribeInstances per"
            " 1,000 instances per origin pair, only the writes a change needs, one AssumeRole per account)",
            f"all-regions scan ratio: a steady inventory run makes {scanned[0]} DRS calls over {pairs[0]} pairs, the"
            f" first run (all regions, {everywhere['decision']}) {scanned[1]} over {pairs[1]}:"
            f" {scanned[0] / scanned[1]:.2f} of the calls (active pairs / all pairs = {pairs[0] / pairs[1]:.2f};"
            " an empty pair costs one call, a pair with servers two)",
            "STS: one AssumeRole per account (and session) per warm container, not per work item",
            *(f"FAILED ITEM {f}" for f in failed[:20]),
        ],
    }
