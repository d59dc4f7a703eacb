"""Events for many pairs at once, beside a full inventory run that scans the same pairs: each pair gets its own
scoped run, and whichever reading of a pair is written last, no row a newer reading wrote is lost."""

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


def test_events_for_fifty_pairs_give_fifty_scoped_runs_beside_a_full_run(sb):
    for account in ACCOUNTS:
        for region in REGIONS:
            sb.add_source_servers(account, region, 2)
    full = sb.start_sync("inventory", {"mode": "discovery"})  # reads the same pairs while the events come in
    sb.advance(90)
    assert sb.wait(full)["status"] == "SUCCEEDED"
    sfn = sb.client("stepfunctions")
    runs = sfn.list_executions(stateMachineArn=sb.state_machine_arn("inventory"))["executions"]
    scoped = [r for r in runs if "-event-" in r["name"]]
    assert len(scoped) == len(ACCOUNTS) * len(REGIONS)
    assert {sb.wait(r["executionArn"])["status"] for r in scoped} == {"SUCCEEDED"}
    rows = sb.items("inventory")
    for account in ACCOUNTS:
        for region in REGIONS:
            held = {r["sourceServerID"] for r in rows if r["accountRegion"] == f"{account}#{region}"}
            assert held == {s["sourceServerID"] for s in sb.engine.source_servers(account, region)}, (account, region)
