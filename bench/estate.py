"""The six-step estate: inventory, tags and staging, first on a new deployment and then in a steady state, on
one sandbox (the tag/staging bench's fleet: 3 target + 1 staging accounts, servers in 4 of the 34 regions).

Calls are counted by the product (each summary's apiCalls) and split DRS / EC2 / STS, the way the
predecessor comparison counts them; every step must end SUCCEEDED.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bench.tags_staging import FLEET
from sandbox import Sandbox

STEPS = [(phase, sync) for phase in ("first", "steady") for sync in ("inventory", "tags", "staging")]


def split(calls: dict[str, int]) -> tuple[int, int, int]:
    """(DRS, EC2, STS) calls of a summary's apiCalls."""
    c = Counter(calls)
    sts = c.get("AssumeRole", 0)
    ec2 = sum(n for op, n in c.items() if op.startswith("DescribeInstances"))
    return sum(c.values()) - ec2 - sts, ec2, sts


def bench_estate() -> dict[str, Any]:
    rows: list[list[Any]] = []
    total = 0
    with Sandbox(fleet=FLEET, parameters={"LogLevel": "WARNING"}) as sb:
        for phase, sync in STEPS:
            started = time.perf_counter()
            summary = sb.run_sync(sync, timeout=600)
            if summary.get("status") != "SUCCEEDED":
                raise RuntimeError(f"{sync} ({phase}) failed: {summary}")
            drs, ec2, sts = split(summary["apiCalls"])
            total += drs + ec2 + sts
            wall = time.perf_counter() - started
            rows.append([f"{sync}, {phase}", f"{drs}/{ec2}/{sts}", summary["workItemCount"], f"{wall:.1f} s"])
    rows.append(["all six", total, "", ""])
    return {
        "title": "Six-step estate: calls DRS/EC2/STS per step (first run, then steady)",
        "headers": ["step", "calls DRS/EC2/STS", "work items", "wall"],
        "rows": rows,
        "notes": [
            "STS: one AssumeRole per account (and session) per warm container, not per work item",
            "DRS: the template is read only in pairs holding servers; copyTags is written once per server, unread",
        ],
    }
