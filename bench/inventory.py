"""Inventory sync benchmark: filtered vs unfiltered vs the lower bound, measured side by side.

Fleet: 3 target + 1 staging accounts, servers in 4 of the SDK's DRS regions (events/fleets/bench.yaml).
- DRS calls of one filtered sync (after the first run populated region status) vs the same sync with
  filtering off, vs the lower bound: one DescribeSourceServers page per 1,000 servers (at least one) plus
  one template call per scanned pair;
- wall time filtered vs unfiltered with 50 ms of simulated latency on every DRS call;
- query_inventory_by_regions latency over 10,000 servers (in-process moto: a relative figure).
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from pathlib import Path

from fleet_sync.regions import drs_regions
from sandbox import Sandbox

FLEET = Path(__file__).resolve().parents[1] / "events" / "fleets" / "bench.yaml"
LATENCY_MS = 50


def _by_operation(sb: Sandbox) -> Counter:
    out: Counter = Counter()
    for c in sb.drs_calls()["calls"]:
        out[c["operation"]] += c["calls"]
    return out


def _lower_bound(sb: Sandbox, pairs: set[tuple[str, str]]) -> int:
    """One DescribeSourceServers page per 1,000 servers (at least one) + one template call, per scanned pair."""
    servers = {(r["accountId"], r["region"]): int(r.get("serverCount") or 0) for r in sb.items("region-status")}
    return sum(max(1, math.ceil(servers.get(p, 0) / 1000)) + 1 for p in pairs)


def _measure(parameters: dict | None, latency: bool) -> dict:
    with Sandbox(fleet=FLEET, parameters=parameters) as sb:
        sb.run_sync("inventory")  # the first run populates region status
        if latency:
            sb.set_faults([{"accountId": "*", "region": "*", "operation": "*", "latencyMs": LATENCY_MS}])
        sb.reset_drs_calls()
        started = time.perf_counter()
        summary = sb.run_sync("inventory")
        wall = time.perf_counter() - started
        calls = _by_operation(sb)
        pairs = {(w["accountId"], w["region"]) for w in summary["workItems"]}
        return {
            "summary": summary,
            "calls": calls,
            "wall": wall,
            "pairs": pairs,
            "lower_bound": _lower_bound(sb, pairs),
        }


def _query_latency() -> dict:
    fleet = {
        "seed": 5,
        "accounts": [
            {
                "accountId": f"{n}" * 12,
                "kind": "target",
                "regions": {r: {"sourceServers": 1250} for r in ("us-east-1", "us-west-2")},
            }
            for n in (1, 2, 4, 5)
        ],
    }
    with Sandbox(fleet=fleet) as sb:
        sb.run_sync("inventory", input={"regions": ["us-east-1", "us-west-2"]})
        from fleet_sync.inventory_query import query_inventory

        rows = len(sb.items("inventory"))
        timings = []
        for _ in range(5):
            t = time.perf_counter()
            result = query_inventory(["us-east-1", "us-west-2"], {"replicationState": "CONTINUOUS"})
            timings.append(time.perf_counter() - t)
        t = time.perf_counter()
        one_region = query_inventory(["us-east-1"], {"accountId": "111111111111"})
        one_region_s = time.perf_counter() - t
        return {
            "rows": rows,
            "median_s": statistics.median(timings),
            "matched": len(result.servers),
            "one_pair_s": one_region_s,
            "one_pair_rows": len(one_region.servers),
        }


def bench_inventory() -> dict:
    filtered = _measure(None, latency=False)
    unfiltered = _measure({"RegionFiltering": "false"}, latency=False)
    filtered_lat = _measure(None, latency=True)
    unfiltered_lat = _measure({"RegionFiltering": "false"}, latency=True)
    query = _query_latency()
    n_regions = len(drs_regions())
    f_calls, u_calls = sum(filtered["calls"].values()), sum(unfiltered["calls"].values())
    active = len({r for _, r in filtered["pairs"]})
    rows = [
        ["work items (account, region)", len(filtered["pairs"]), len(unfiltered["pairs"]), "-"],
        ["DRS calls", f_calls, u_calls, filtered["lower_bound"]],
        [
            "  DescribeSourceServers",
            filtered["calls"]["DescribeSourceServers"],
            unfiltered["calls"]["DescribeSourceServers"],
            "-",
        ],
        [
            "calls vs lower bound",
            f"{f_calls / filtered['lower_bound']:.2f}x",
            f"{u_calls / filtered['lower_bound']:.2f}x",
            "1.00x",
        ],
        [
            "calls saved vs unfiltered",
            f"{100 * (1 - f_calls / u_calls):.1f}%",
            "-",
            f"goal >= {100 * (1 - active / n_regions):.1f}% (1 - active/all)",
        ],
        [
            f"wall time, {LATENCY_MS} ms DRS latency",
            f"{filtered_lat['wall']:.2f} s",
            f"{unfiltered_lat['wall']:.2f} s",
            f"ratio {filtered_lat['wall'] / unfiltered_lat['wall']:.2f} (goal < 0.25)",
        ],
    ]
    return {
        "title": f"Inventory sync: filtered vs unfiltered vs lower bound ({active} of {n_regions} regions active)",
        "headers": ["measure", "filtered", "unfiltered", "lower bound / goal"],
        "rows": rows,
        "notes": [
            f"servers synced per run: {filtered['summary']['serversSynced']}",
            f"query_inventory_by_regions over {query['rows']} rows: median {query['median_s'] * 1000:.0f} ms for "
            f"{query['matched']} CONTINUOUS servers in 2 regions (index queries, in-process moto); one (account, "
            f"region) by key: {query['one_pair_s'] * 1000:.0f} ms for {query['one_pair_rows']} rows",
        ],
    }
