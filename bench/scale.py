"""`make bench-scale`: one discovery run per size, each in a process of its own, and docs/scale.md from them.

Each size is a fleet of N target accounts with 5 servers each in us-east-1 and every other region left
uninitialized (as AWS answers a region DRS was never set up in); a discovery run scans every region of every
account, so N accounts are N x 34 work items. Per run: its outcome, wall time, wall per item, the process's
peak memory (the sandbox, moto and every Lambda share it), the parent execution's history events (the Map's
items are child executions, never the parent's) and the summary's size, and the shared tasks' times from the
parent's history.

    python -m bench.scale 1000 3000        # sizes in work items (rounded up to whole accounts)
    python -m bench.scale --runs 3 3400     # the same size three times in a row
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess  # nosec B404  # runs this module itself, one size per process
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "scale.md"
SERVERS_PER_ACCOUNT = 5
REGIONS = 34  # the SDK's DRS regions: a discovery run's items per account
SHARED_TASKS = ("Resolve the scan plan", "Summarize the run", "Update region status", "Finish the run")


def fleet(accounts: int) -> dict[str, Any]:
    return {
        "seed": 7,
        "accounts": [
            {
                "accountId": f"{100000000000 + i:012d}",
                "kind": "target",
                "regions": {"us-east-1": {"sourceServers": SERVERS_PER_ACCOUNT}},
            }
            for i in range(accounts)
        ],
    }


def _task_seconds(events: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds each shared task took (entered to exited), from the parent's history."""
    entered: dict[str, datetime] = {}
    took: dict[str, float] = {}
    for e in events:
        details = e.get("stateEnteredEventDetails") or e.get("stateExitedEventDetails") or {}
        name = details.get("name")
        if name not in SHARED_TASKS:
            continue
        if e["type"].endswith("StateEntered"):
            entered[name] = e["timestamp"]
        elif name in entered:
            took[name] = round((e["timestamp"] - entered[name]).total_seconds(), 1)
    return took


def measure(items: int) -> dict[str, Any]:
    """One discovery run of about `items` work items, in this process."""
    from sandbox import Sandbox

    accounts = math.ceil(items / REGIONS)
    with Sandbox(fleet=fleet(accounts), parameters={"LogLevel": "WARNING"}) as sb:
        started = time.perf_counter()
        summary = sb.run_sync("inventory", {"mode": "discovery"}, timeout=6 * 3600)
        wall = time.perf_counter() - started
        events = sb.history(summary["executionArn"])
    n = summary.get("workItemCount") or accounts * REGIONS
    return {
        "accounts": accounts,
        "items": n,
        "status": summary.get("status"),
        "outcome": summary.get("outcome") or summary.get("error"),
        "errors": summary.get("errorCount"),
        "serversSynced": summary.get("serversSynced"),
        "wall": round(wall, 1),
        "perItemMs": round(1000 * wall / n),
        "peakMemoryMb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "historyEvents": len(events),
        "summaryBytes": len(json.dumps(summary, default=str)),
        "taskSeconds": _task_seconds(events),
        "apiCalls": summary.get("apiCallTotal"),
        "loadAverage": round(os.getloadavg()[0], 1),
    }


def _in_subprocess(items: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(  # nosec B603  # this interpreter, this module, a number
        [sys.executable, "-m", "bench.scale", "--one", str(items)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        return {"items": items, "status": "ERROR", "outcome": (out.stderr or out.stdout)[-500:]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


HEADERS = [
    "items",
    "accounts",
    "outcome",
    "wall s",
    "ms per item",
    "peak MB",
    "parent events",
    "summary KB",
    "Update region status s",
    "API calls (bound)",
    "load",
]


def _row(m: dict[str, Any]) -> list[Any]:
    if m.get("status") == "ERROR":
        return [m["items"], "-", f"ERROR: {m['outcome'][-120:]!r}", *["-"] * (len(HEADERS) - 3)]
    return [
        m["items"],
        m["accounts"],
        f"{m['status']} {m['outcome']}",
        m["wall"],
        m["perItemMs"],
        m["peakMemoryMb"],
        m["historyEvents"],
        round(m["summaryBytes"] / 1024, 1),
        m["taskSeconds"].get("Update region status", "-"),
        f"{m['apiCalls']} ({lower_bound(m['items'], m['accounts'])})",
        m.get("loadAverage", "-"),
    ]


def lower_bound(items: int, accounts: int) -> int:
    """A discovery run's calls it cannot do without: one DescribeSourceServers per pair (each holds fewer than
    1,000 servers), the template in each pair with servers (one per account here), one AssumeRole per account."""
    return items + 2 * accounts


def _markdown(headers: list[str], rows: list[list[Any]]) -> str:
    return "\n".join(
        [
            "| " + " | ".join(headers) + " |",
            "| " + " | ".join("---" for _ in headers) + " |",
            *("| " + " | ".join(str(c) for c in r) + " |" for r in rows),
        ]
    )


def write_doc(results: list[dict[str, Any]], region_status: dict[str, Any] | None) -> None:
    status_part = ""
    if region_status:
        status_part = (
            "\n\n## "
            + region_status["title"]
            + "\n\n"
            + _markdown(region_status["headers"], region_status["rows"])
            + "\n\n"
            + "\n".join(f"- {n}" for n in region_status["notes"])
        )
    DOC.write_text(
        "# Scale: discovery runs in the sandbox\n\n"
        "Regenerated by `make bench-scale` (bench/scale.py); sizes with `BENCH_SCALE_SIZES`. Each run is one\n"
        f"discovery execution over N target accounts with {SERVERS_PER_ACCOUNT} servers each in us-east-1, every\n"
        f"other region uninitialized: N x {REGIONS} work items, each a Distributed Map child execution running the\n"
        "inventory worker in process. Wall times are of one Python process holding moto, the DRS simulator and\n"
        "every Lambda on a shared 2-core machine: compare them with each other, not with AWS. Peak memory is the\n"
        "whole process's. Parent events are the parent execution's history (the items' are the child\n"
        "executions'); the summary lists the first 1,000 work items and counts all of them. API calls are the\n"
        "product's own (its summary), beside the lower bound (`lower_bound` in bench/scale.py); load is the\n"
        "machine's 1-minute load average when the run ended.\n\n"
        + _markdown(HEADERS, [_row(m) for m in results])
        + status_part
        + f"\n\nMeasured {datetime.now().strftime('%Y-%m-%d %H:%M')} UTC.\n"
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        print(json.dumps(measure(int(argv[1]))), flush=True)
        return 0
    runs = 1
    if argv[:1] == ["--runs"]:
        runs, argv = int(argv[1]), argv[2:]
    sizes = [int(a) for a in argv] or [int(s) for s in os.environ.get("BENCH_SCALE_SIZES", "1000 3000").split()]
    results = []
    for items in sizes:
        for _ in range(runs):
            m = _in_subprocess(items)
            results.append(m)
            print(json.dumps(m), flush=True)
    region_status = None
    pairs = [int(p) for p in os.environ.get("BENCH_REGION_STATUS_PAIRS", "").split()]
    if pairs:
        from bench.region_status import bench_region_status

        region_status = bench_region_status(tuple(pairs))
    write_doc(results, region_status)
    return 0 if all(m.get("status") == "SUCCEEDED" for m in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
