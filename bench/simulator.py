"""DRS simulator throughput: DescribeSourceServers calls per second through boto3 under ``mock_aws()``.

Measured in this process on 1,000 seeded servers in one account and region; every call is a real
boto3 call (signing, serialisation, moto's stubber, the simulator, parsing). The last row calls the
engine directly, which shows how much of the cost is the client.
"""

from __future__ import annotations

import json
import time
from typing import Any

ACCOUNT, REGION = "111111111111", "us-east-1"
SERVERS = 1000
SECONDS_PER_ROW = 0.9


def _rate(fn: Any, seconds: float) -> tuple[int, float]:
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        calls += 1
    return calls, elapsed


def bench_simulator() -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from sandbox.drs import register_with_moto
    from sandbox.drs.engine import ServerSpec

    engine = register_with_moto()
    rows: list[list[Any]] = []
    with mock_aws():
        for i in range(SERVERS):
            engine.create_source_server(ACCOUNT, REGION, ServerSpec(hostname=f"bench-{i:04d}"))
        client = boto3.client(
            "drs",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        # the default account of moto is 123456789012; point the client at the seeded account
        client.meta.events.register(
            "before-sign.drs.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", ACCOUNT)
        )
        assert len(client.describe_source_servers(maxResults=10)["items"]) == 10
        for page_size in (10, 100, 1000):
            calls, elapsed = _rate(lambda n=page_size: client.describe_source_servers(maxResults=n), SECONDS_PER_ROW)
            rows.append(["DescribeSourceServers (boto3)", page_size, calls, round(elapsed, 2), round(calls / elapsed)])
        body = json.dumps({"maxResults": 100}).encode()
        calls, elapsed = _rate(
            lambda: engine.handle("POST", "/DescribeSourceServers", {}, body, account=ACCOUNT, region=REGION),
            SECONDS_PER_ROW,
        )
        rows.append(["DescribeSourceServers (engine only)", 100, calls, round(elapsed, 2), round(calls / elapsed)])
    engine.reset()
    return {
        "title": "DRS simulator throughput (in process, mock_aws)",
        "headers": ["call", "maxResults", "calls", "seconds", "calls/s"],
        "rows": rows,
        "calls_per_second": rows[0][4],
        "notes": [
            f"{SERVERS} servers in one account and region; one client, one thread",
            "boto3 (signing, parsing) costs more than the simulator itself: compare the last row",
        ],
    }


if __name__ == "__main__":
    result = bench_simulator()
    for row in result["rows"]:
        print(*row, sep="\t")
