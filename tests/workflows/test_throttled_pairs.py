"""A throttled DRS pair through the real state machine, on the sandbox's virtual clock: the SDK's standard
retries back off on the same clock the simulator's token bucket refills by, as in AWS."""

import time
from collections import Counter

import pytest

from sandbox import Sandbox

TARGET = "111111111111"
THREE_PAGES = 2500  # the product lists 1,000 source servers per page
FLEET = {
    "seed": 3,
    "accounts": [
        {
            "accountId": TARGET,
            "name": "prod-dr",
            "kind": "target",
            "externalId": "ext-prod",
            "regions": {"us-east-1": {"sourceServers": THREE_PAGES}, "eu-west-1": {"sourceServers": 3}},
        }
    ],
}


@pytest.fixture(scope="module")
def sb():
    with Sandbox(fleet=FLEET, parameters={"DrsRegions": "us-east-1,eu-west-1"}) as box:
        yield box


def throttle(sb, tps):
    sb.set_faults(
        [
            {
                "accountId": TARGET,
                "region": "us-east-1",
                "operation": "DescribeSourceServers",
                "throttleTps": tps,
                "burst": 1,
            }
        ]
    )
    sb.reset_drs_calls()
    sb.waits.clear()


def status_of(sb, region):
    return {r["region"]: r for r in sb.items("region-status") if r["accountId"] == TARGET}[region]


def listing_calls(sb):
    return Counter(
        c["region"]
        for c in sb.drs_calls()["calls"]
        for _ in range(c["calls"])
        if c["operation"] == "DescribeSourceServers"
    )


@pytest.mark.parametrize("tps", [1, 0.2])
def test_a_throttled_pair_with_three_pages_completes_through_standard_retries(sb, tps):
    throttle(sb, tps)
    started = sb.clock.monotonic()
    summary = sb.run_sync("inventory", timeout=600)
    row = status_of(sb, "us-east-1")
    assert (row["status"], row["serverCount"]) == ("AVAILABLE", THREE_PAGES)
    assert summary["outcome"] == "complete" and not summary["errors"]
    assert listing_calls(sb)["us-east-1"] >= 3
    if tps < 1:  # a page is read faster than every 5 s, whatever the machine: the SDK had to back off
        assert listing_calls(sb)["us-east-1"] > 3 and sb.waits.sdk_retry_delays
        assert sb.clock.monotonic() - started >= 2 / tps  # the bucket refilled for pages 2 and 3


def test_a_pair_at_a_hundredth_of_a_tps_ends_throttled_after_every_retry(sb):
    throttle(sb, 0.01)
    started_real, started = time.monotonic(), sb.clock.monotonic()
    summary = sb.run_sync("inventory", timeout=600)
    assert status_of(sb, "us-east-1")["status"] == "THROTTLED"
    assert status_of(sb, "eu-west-1")["status"] == "AVAILABLE"  # the other pair is not held back
    codes = {(e["accountId"], e["region"]): e["code"] for e in summary["errors"]}
    assert codes == {(TARGET, "us-east-1"): "RegionScanThrottled"}
    assert len(sb.waits.retry_delays) == 3  # the ASL's RegionScanThrottled retrier, MaxAttempts 3
    # Each of the 4 attempts spent its 8 SDK attempts (DRS_CONFIG) before giving the item back
    assert listing_calls(sb)["us-east-1"] >= 4 * 8
    # Waited for on the clock (standard backoff up to 20 s a retry, the ASL's 2-30 s), not in real time
    assert sb.clock.monotonic() - started > 60
    assert time.monotonic() - started_real < sb.clock.monotonic() - started


def test_each_invocation_logs_to_its_function_group_with_its_own_keys(sb):
    worker = sb.function_name("InventoryWorkerFunction")
    lines = sb.logs("InventoryWorkerFunction")
    assert {x["function"] for x in lines} == {worker}
    assert any(x.get("message", "").startswith("REPORT RequestId:") for x in lines)  # Lambda's own lines
    done = [x for x in lines if x.get("message") == "work item done" and x.get("status") == "AVAILABLE"]
    assert len(done) >= 3
    # The keys are the invocation's own: a line's region is the pair its server count came from
    counts = {"us-east-1": THREE_PAGES, "eu-west-1": 3}
    assert all(x["serverCount"] == counts[x["region"]] for x in done)
    # and the sync's view holds the same lines, execution by execution
    execution = done[-1]["executionArn"]
    assert done[-1] in sb.logs("inventory", execution=execution)
    assert all(x["executionArn"] == execution for x in sb.logs("inventory", execution=execution))
