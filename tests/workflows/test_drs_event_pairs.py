"""Events for 50 pairs at once, beside a full inventory run that scans the same pairs: the sync's lock decides.
Scoped runs never write beside the full run (those that meet its lock wait for it in their first state), every
pair is active at once, and no server is lost. The 50 runs finish together: their FinishRun invocations keep
their metrics apart, as containers do (tests/sandbox/test_invocation_metrics.py)."""

import pytest

from sandbox import Sandbox

ACCOUNTS = [f"10000000000{n}" for n in range(5)]
REGIONS = [
    "ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1",
    "eu-north-1", "eu-west-1", "eu-west-2", "us-east-1", "us-west-2",
]  # fmt: skip
PARAMETERS = {"DrsRegions": ",".join(REGIONS), "EventSourceAccountIds": ",".join(ACCOUNTS)}
FLEET = {"seed": 3, "accounts": [{"accountId": a, "regions": {"us-east-1": {"sourceServers": 2}}} for a in ACCOUNTS]}


@pytest.fixture(scope="module")
def sb():
    with Sandbox(fleet=FLEET, parameters=PARAMETERS) as s:
        s.run_sync("inventory")
        yield s


def test_events_for_fifty_pairs_beside_a_full_run_never_write_beside_it_and_lose_nothing(sb):
    for account in ACCOUNTS:
        for region in REGIONS:
            sb.add_source_servers(account, region, 2)
    full = sb.start_sync("inventory", {"mode": "discovery"})  # holds the lock while the events come in
    sb.advance(200)  # the events, and the scoped runs waiting for the lock in turn
    assert sb.wait(full)["status"] == "SUCCEEDED"
    sfn = sb.client("stepfunctions")
    runs = [
        sb.wait(r["executionArn"])
        for r in sfn.list_executions(stateMachineArn=sb.state_machine_arn("inventory"))["executions"]
    ]
    assert {r["status"] for r in runs} == {"SUCCEEDED"}, [
        (r["name"], r.get("error"), str(r.get("cause"))[:300]) for r in runs if r["status"] != "SUCCEEDED"
    ]
    started = [s for d in sb.eventbridge.deliveries if d.kind == "invoked" for s in d.result.get("started", [])]
    assert len(started) == len(ACCOUNTS) * len(REGIONS)  # one run per pair, none refused
    assert any(s["waitsForLock"] for s in started), "the full run held the lock: runs waited for it"
    rows, statuses = sb.items("inventory"), sb.items("region-status")
    for account in ACCOUNTS:
        for region in REGIONS:
            held = {r["sourceServerID"] for r in rows if r["accountRegion"] == f"{account}#{region}"}
            assert held == {s["sourceServerID"] for s in sb.engine.source_servers(account, region)}, (account, region)
            [status] = [s for s in statuses if s["accountId"] == account and s["region"] == region]
            assert status["serverCount"] >= 2
