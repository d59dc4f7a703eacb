"""Inventory sync benchmark: filtered vs unfiltered vs the lower bound, measured side by side.

Fleet: events/fleets/bench.yaml (3 target + 1 staging accounts, servers in 4 of the SDK's DRS regions).
- DRS calls of one filtered sync (after a first run populated region status) vs an all-regions (discovery)
  run on the same sandbox, which plans every pair as filtering off does, vs the lower bound: one
  DescribeSourceServers page per 1,000 servers (at least one) plus one template call per scanned pair;
- wall time filtered vs unfiltered with 50 ms of simulated latency on every DRS call, on the bench fleet as
  it is and on the same fleet with no EC2-backed servers: per-server work is the same with or without
  filtering, and in the sandbox it is dominated by moto's EC2 DescribeInstances (about 10 ms per instance);
- query_inventory_by_regions over 10,000 servers: DynamoDB requests and in-process time.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from fleet_sync.core.regions import drs_regions
from sandbox import Sandbox

FLEET = Path(__file__).resolve().parents[1] / "events" / "fleets" / "bench.yaml"
LATENCY_MS = 50
QUIET = {"LogLevel": "WARNING"}


def _by_operation(sb: Sandbox) -> Counter[str]:
    out: Counter[str] = Counter()
    for c in sb.drs_calls()["calls"]:
        out[c["operation"]] += c["calls"]
    return out


def _lower_bound(sb: Sandbox, pairs: set[tuple[str, str]]) -> int:
    """One DescribeSourceServers page per 1,000 servers (at least one) + one template call, per scanned pair."""
    servers = {(r["accountId"], r["region"]): int(r.get("serverCount") or 0) for r in sb.items("region-status")}
    return sum(max(1, math.ceil(servers.get(p, 0) / 1000)) + 1 for p in pairs)


def _timed_run(sb: Sandbox, input: dict[str, Any] | None = None) -> dict[str, Any]:
    sb.reset_drs_calls()
    started = time.perf_counter()
    summary = sb.run_sync("inventory", input)
    wall = time.perf_counter() - started
    pairs = {(w["accountId"], w["region"]) for w in summary["workItems"]}
    return {"summary": summary, "calls": _by_operation(sb), "wall": wall, "pairs": pairs}


def _measure(fleet: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(filtered, unfiltered) on one sandbox: after a first run populated region status and the inventory, a
    filtered run, then an all-regions (discovery) run, which plans every pair as filtering off does."""
    with Sandbox(fleet=copy.deepcopy(fleet), parameters=QUIET) as sb:
        sb.run_sync("inventory")
        sb.set_faults([{"accountId": "*", "region": "*", "operation": "*", "latencyMs": LATENCY_MS}])
        filtered = _timed_run(sb)
        filtered["lower_bound"] = _lower_bound(sb, filtered["pairs"])
        unfiltered = _timed_run(sb, {"mode": "discovery"})
        return filtered, unfiltered


def _without_ec2(fleet: dict[str, Any], max_servers: int | None = None) -> dict[str, Any]:
    """The same accounts and regions without EC2-backed servers (and at most max_servers per pair)."""
    out = copy.deepcopy(fleet)
    for account in out["accounts"]:
        for spec in (account.get("regions") or {}).values():
            spec.pop("ec2Backed", None)
            spec.pop("recoveryInstances", None)
            if max_servers is not None:
                spec["sourceServers"] = min(int(spec.get("sourceServers") or 0), max_servers)
                for extended in spec.get("extendedFrom") or {}:
                    spec["extendedFrom"][extended] = min(spec["extendedFrom"][extended], max_servers)
    return out


class _DynamoRequests:
    def __init__(self) -> None:
        self.count: Counter[str] = Counter()

    def __enter__(self) -> _DynamoRequests:
        from fleet_sync.core import aws  # the sandbox's fresh import, the one the handlers and queries use

        self.events = aws.dynamodb().meta.client.meta.events
        self.events.register("before-parameter-build.dynamodb", self._count)
        return self

    def _count(self, model: Any = None, **_: Any) -> None:
        self.count[model.name] += 1

    def __exit__(self, *exc: object) -> None:
        self.events.unregister("before-parameter-build.dynamodb", self._count)


def _query_latency() -> dict[str, Any]:
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
    with Sandbox(fleet=fleet, parameters={**QUIET, "DrsRegions": "us-east-1,us-west-2"}) as sb:
        sb.run_sync("inventory")
        from fleet_sync.syncs.inventory.refresh import query_inventory

        out: dict[str, Any] = {"rows": len(sb.items("inventory"))}
        for label, regions, filters in (
            ("all CONTINUOUS servers, 2 regions", ["us-east-1", "us-west-2"], {"replicationState": "CONTINUOUS"}),
            ("one (account, region)", ["us-east-1"], {"accountId": "111111111111"}),
            ("one hostname substring, 1 region", ["us-east-1"], {"hostname": "db"}),
        ):
            timings: list[float] = []
            result = None
            with _DynamoRequests() as ddb:
                for _ in range(3):
                    t = time.perf_counter()
                    result = query_inventory(regions, filters)
                    timings.append(time.perf_counter() - t)
            assert result is not None  # three runs above
            out[label] = {
                "ms": statistics.median(timings) * 1000,
                "servers": len(result.servers),
                "queries": ddb.count["Query"] // 3,
                "scans": ddb.count["Scan"] // 3,
            }
        return out


def bench_inventory() -> dict[str, Any]:
    fleet = yaml.safe_load(FLEET.read_text())
    n_regions = len(drs_regions())
    filtered, unfiltered = _measure(fleet)
    plain_f, plain_u = _measure(_without_ec2(fleet))
    small_f, small_u = _measure(_without_ec2(fleet, 25))
    query = _query_latency()
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
            f"wall, {LATENCY_MS} ms DRS latency, bench fleet",
            f"{filtered['wall']:.2f} s",
            f"{unfiltered['wall']:.2f} s",
            f"ratio {filtered['wall'] / unfiltered['wall']:.2f} (goal < 0.25)",
        ],
        [
            f"wall, {LATENCY_MS} ms DRS latency, no EC2 enrichment",
            f"{plain_f['wall']:.2f} s",
            f"{plain_u['wall']:.2f} s",
            f"ratio {plain_f['wall'] / plain_u['wall']:.2f} (goal < 0.25)",
        ],
        [
            f"wall, {LATENCY_MS} ms DRS latency, <= 25 servers per pair",
            f"{small_f['wall']:.2f} s",
            f"{small_u['wall']:.2f} s",
            f"ratio {small_f['wall'] / small_u['wall']:.2f} (goal < 0.25)",
        ],
    ]
    notes = [
        f"servers synced per run: {filtered['summary']['serversSynced']} (a fresh sandbox per fleet, "
        "MapMaxConcurrency 10; after a first run populated region status, the filtered run, then the"
        " unfiltered one: an all-regions (discovery) run, which plans every pair as RegionFiltering=false does)"
    ]
    for label in [k for k in query if k != "rows"]:
        q = query[label]
        notes.append(
            f"query_inventory_by_regions over {query['rows']} rows, {label}: {q['servers']} servers, "
            f"{q['queries']} DynamoDB Query requests (1 MB pages), {q['scans']} Scan, "
            f"{q['ms']:.0f} ms in-process moto"
        )
    return {
        "title": f"Inventory sync: filtered vs unfiltered vs lower bound ({active} of {n_regions} regions active)",
        "headers": ["measure", "filtered", "unfiltered", "lower bound / goal"],
        "rows": rows,
        "notes": notes,
    }
