"""Update region status at 1k and 10k pairs: the shared task alone, on item results seeded into the sandbox.

Each pair already holds a row with another sync's outcome (`tagsOutcome`); the inventory's task writes every
pair's status and counts and must leave that attribute as it was. The task runs as the state machine runs it
(its Lambda invoked through moto, on the sandbox's DynamoDB); its DynamoDB requests are counted around it.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import boto3

from sandbox import Sandbox

SIZES = (1000, 10000)
RUN_ID = "bench-region-status"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1")
# AWS terms: DynamoDB's UpdateItem answers in about 5-10 ms from a Lambda in the same region.
AWS_UPDATE_MS = 8


def pairs(n: int) -> list[tuple[str, str]]:
    return [(f"{100000000000 + i // len(REGIONS):012d}", REGIONS[i % len(REGIONS)]) for i in range(n)]


def seed(sb: Sandbox, n: int) -> None:
    """n item results of one inventory run and, for each pair, a row holding a tag sync's outcome."""
    ddb = sb.client("dynamodb")
    results = sb.table_name("sync-state")
    statuses = sb.table_name("region-status")
    resource = boto3.resource("dynamodb", region_name=ddb.meta.region_name)
    with resource.Table(results).batch_writer() as batch:
        for i, (account, region) in enumerate(pairs(n)):
            batch.put_item(
                Item={
                    "pk": f"run#{RUN_ID}",
                    "sk": f"item#{account}#{region}",
                    "accountId": account,
                    "region": region,
                    "status": "AVAILABLE" if i % 10 else "ACCESS_DENIED",
                    "ok": bool(i % 10),
                    "serverCount": i % 7,
                    "replicatingCount": i % 5,
                    **({} if i % 10 else {"errorCode": "AccessDeniedException", "errorMessage": "denied"}),
                }
            )
    with resource.Table(statuses).batch_writer() as batch:
        for account, region in pairs(n):
            batch.put_item(
                Item={
                    "accountId": account,
                    "region": region,
                    "status": "AVAILABLE",
                    "serverCount": 1,
                    "tagsOutcome": {"status": "AVAILABLE", "checkedAt": "2026-01-01T00:00:00Z"},
                }
            )


def run_record(n: int) -> dict[str, Any]:
    return {
        "sync": "inventory",
        "runId": RUN_ID,
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:bench:{RUN_ID}",
        "decision": "discovery",
        "workItemCount": n,
    }


def update_once(sb: Sandbox, n: int) -> dict[str, Any]:
    """Seed n pairs, run the task once; its wall, CPU, result and whether every other outcome survived."""
    seed(sb, n)
    lam = sb.client("lambda")
    started, cpu = time.perf_counter(), time.process_time()
    response = lam.invoke(
        FunctionName=sb.function_name("UpdateRegionStatusFunction"), Payload=json.dumps({"run": run_record(n)})
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    answer = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        raise RuntimeError(f"update region status failed at {n} pairs: {answer}")
    rows = sb.items("region-status")
    kept = sum(1 for r in rows if r.get("tagsOutcome", {}).get("status") == "AVAILABLE")
    moved = sum(1 for r in rows if "lastChecked" in r)
    return {"pairs": n, "wall": wall, "cpu": cpu, "updated": answer["pairsUpdated"], "kept": kept, "moved": moved}


def measure(n: int, writers: int | None = None) -> dict[str, Any]:
    """The task at n pairs with its writers (None: as shipped; 1: one UpdateItem after the other)."""
    with Sandbox(parameters={"LogLevel": "WARNING"}) as sb:
        from fleet_sync.run import tasks  # the module the handlers run (imported inside the sandbox)

        shipped = tasks.REGION_STATUS_WRITERS
        tasks.REGION_STATUS_WRITERS = writers or shipped
        try:
            return {**update_once(sb, n), "writers": tasks.REGION_STATUS_WRITERS}
        finally:
            tasks.REGION_STATUS_WRITERS = shipped


def bench_region_status(sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    rows = []
    for n in sizes:
        for writers in (1, None):
            m = measure(n, writers)
            rows.append(
                [
                    n,
                    m["writers"],
                    f"{m['wall']:.1f}",
                    f"{m['cpu']:.1f}",
                    f"{1000 * m['wall'] / n:.2f}",
                    f"{m['kept']}/{n}",
                    f"{math.ceil(n / m['writers']) * AWS_UPDATE_MS / 1000:.1f} s",
                ]
            )
    return {
        "title": "Update region status: one inventory run's pairs, the task alone",
        "headers": ["pairs", "writers", "wall s", "CPU s", "ms per pair", "other outcomes kept", "AWS terms"],
        "rows": rows,
        "notes": [
            f"AWS terms: {AWS_UPDATE_MS} ms per UpdateItem, the writers' UpdateItems at once",
            "in the sandbox every thread shares one interpreter (and moto's DynamoDB answers one request at a"
            " time), so more writers barely move its wall time; in AWS they divide it",
        ],
    }


if __name__ == "__main__":
    import sys

    out = bench_region_status(tuple(int(a) for a in sys.argv[1:]) or SIZES)
    print(json.dumps(out, indent=2))
