"""Every route end to end: API Gateway event -> routed function -> real state machines, tables and DRS.

One sandbox for the module; the first syncs are started through the API itself. Each test also checks that
every AWS call the two API functions made is allowed by their roles as the template defines them.
"""

from __future__ import annotations

import json

import pytest
from api_support import (
    NEW_TARGET,
    OTHER_TARGET,
    REGIONS,
    STAGING,
    TARGET,
    drs_writes,
    expect,
    fields,
    open_sandbox,
    wait_all,
)

from sandbox.drs.jobs import JOB_SECONDS
from tests.sandbox_support import age_pair, bump_region_cache

pytestmark = pytest.mark.usefixtures("iam_checked")


def start(sb, path, body=None, status=202):
    started = expect(sb, "POST", path, status, body=body)
    return started, sb.wait(started["executionArn"])


@pytest.fixture(scope="module")
def sb():
    with open_sandbox() as box:
        for sync in ("inventory", "recovery-instances"):
            _, done = start(box, f"/syncs/{sync}")
            assert done["status"] == "SUCCEEDED", done
        yield box
        wait_all(box)


# ------------------------------------------------------------------ syncs


def test_post_sync_starts_the_state_machine_and_the_query_side_follows_it(sb):
    started, done = start(sb, "/syncs/inventory", body={"regions": ["us-east-1"]})
    assert started["executionArn"].startswith(
        sb.state_machine_arn("inventory").replace(":stateMachine:", ":execution:")
    )
    assert started["links"]["execution"] == f"/syncs/inventory/executions/{started['executionName']}"
    assert done["status"] == "SUCCEEDED"

    execution = expect(sb, "GET", started["links"]["execution"], 200)
    assert execution["status"] == "SUCCEEDED" and execution["input"] == {"regions": ["us-east-1"]}
    assert execution["summary"]["workItems"] and {w["region"] for w in execution["summary"]["workItems"]} == {
        "us-east-1"
    }
    assert execution["summary"]["serversSynced"] == sum(
        1 for r in sb.items("inventory") if r["replicationRegion"] == "us-east-1"
    )

    status = expect(sb, "GET", "/syncs/inventory/status", 200)
    assert status["lastRun"]["executionArn"] == started["executionArn"]
    assert status["lastRun"]["summary"]["outcome"] == "complete"
    assert status["lock"] is None  # released by FinishRun

    listed = expect(sb, "GET", "/syncs/inventory/executions", 200, query={"status": "SUCCEEDED", "limit": 1})
    assert len(listed["executions"]) == 1 and listed["nextToken"]
    more = expect(
        sb,
        "GET",
        "/syncs/inventory/executions",
        200,
        query={"status": "SUCCEEDED", "limit": 1, "nextToken": listed["nextToken"]},
    )
    assert more["executions"][0]["executionArn"] != listed["executions"][0]["executionArn"]

    syncs = {s["sync"]: s for s in expect(sb, "GET", "/syncs", 200)["syncs"]}
    assert set(syncs) == {"inventory", "tags", "staging", "recovery-instances"}
    assert syncs["inventory"]["stateMachineArn"] == sb.state_machine_arn("inventory")
    assert syncs["inventory"]["lastRun"]["outcome"] == "complete" and "summary" not in syncs["inventory"]["lastRun"]
    assert syncs["tags"]["lastRun"] is None


def test_unknown_execution_is_404(sb):
    payload = expect(sb, "GET", "/syncs/tags/executions/no-such-run", 404)
    assert payload["error"] == "NotFound"


@pytest.mark.parametrize(
    ("path", "sync", "body"),
    [
        ("/syncs/tags", "tags", {"regions": ["us-east-1"]}),
        ("/drs/tag-sync", "tags", None),
        ("/syncs/staging", "staging", {"dryRun": True}),
        ("/syncs/recovery-instances", "recovery-instances", {"accounts": [TARGET]}),
        ("/drs/recovery-instance-sync", "recovery-instances", None),
    ],
)
def test_every_sync_and_its_alias_starts_its_own_state_machine(sb, path, sync, body):
    started, done = start(sb, path, body=body)
    assert started["sync"] == sync
    assert f":execution:{sb.state_machine_arn(sync).rsplit(':', 1)[-1]}:" in started["executionArn"]
    assert done["status"] == "SUCCEEDED", done


def test_recovery_instance_sync_status_alias(sb):
    status = expect(sb, "GET", "/drs/recovery-instance-sync/status", 200)
    assert status["status"] == "healthy" and status["fresh"] is True
    assert status["instancesUpdated"] == sum(1 for _ in sb.items("recovery-instances"))


# ------------------------------------------------------------------ regions


def test_regions_show_each_pair_the_active_set_and_the_decision(sb):
    regions = expect(sb, "GET", "/regions", 200)
    assert regions["decision"] == "filtered" and regions["filtering"] is True
    assert regions["regions"] == REGIONS
    assert regions["activeRegions"] == REGIONS  # TARGET has servers in both
    pairs = {(s["accountId"], s["region"]): s for s in regions["statuses"]}
    assert pairs[(TARGET, "us-east-1")]["serverCount"] == 5
    assert pairs[(STAGING, "eu-west-1")]["serverCount"] == 0
    assert pairs[(OTHER_TARGET, "us-east-1")]["status"] == "AVAILABLE"
    assert all(a != NEW_TARGET for a, _ in pairs)  # not registered: never scanned

    mine = expect(sb, "GET", "/regions", 200, query={"accountId": STAGING, "region": "us-east-1"})
    assert [(s["accountId"], s["region"]) for s in mine["statuses"]] == [(STAGING, "us-east-1")]


# ------------------------------------------------------------------ inventory


def ids(payload):
    return [s["sourceServerID"] for s in payload["servers"]]


def test_inventory_pages_cover_every_row_exactly_once(sb):
    everything = expect(sb, "GET", "/inventory", 200, query={"limit": 500})
    rows = sb.items("inventory")
    assert sorted(ids(everything)) == sorted(r["sourceServerID"] for r in rows)
    assert everything["nextToken"] is None and everything["source"] == "inventory"
    assert everything["drsFallback"] is False and everything["freshness"]["fresh"] is True

    seen, token, pages = [], None, 0
    while True:
        query = {"limit": 3, **({"nextToken": token} if token else {})}
        page = expect(sb, "GET", "/inventory", 200, query=query)
        assert page["count"] <= 3
        seen += ids(page)
        pages += 1
        token = page["nextToken"]
        if not token:
            break
    assert sorted(seen) == sorted(ids(everything)) and len(seen) == len(set(seen))
    assert pages >= len(seen) // 3


def test_inventory_filters_use_the_indexes(sb):
    rows = sb.items("inventory")
    by = expect(sb, "GET", "/inventory", 200, query={"accountId": STAGING})
    assert sorted(ids(by)) == sorted(r["sourceServerID"] for r in rows if r["accountId"] == STAGING)

    state = rows[0]["replicationState"]
    by_state = expect(sb, "GET", "/inventory", 200, query={"replicationState": state, "regions": "us-east-1"})
    assert sorted(ids(by_state)) == sorted(
        r["sourceServerID"] for r in rows if r["replicationState"] == state and r["replicationRegion"] == "us-east-1"
    )

    host = rows[0]["hostname"][:6]
    by_host = expect(sb, "GET", "/inventory", 200, query={"hostname": host, "sourceAccountId": TARGET})
    assert sorted(ids(by_host)) == sorted(
        r["sourceServerID"] for r in rows if host in r["hostname"] and r["sourceAccountId"] == TARGET
    )

    staged = expect(sb, "GET", "/inventory", 200, query={"stagingAccountId": TARGET, "regions": ["eu-west-1"]})
    assert sorted(ids(staged)) == sorted(
        r["sourceServerID"] for r in rows if r["stagingAccountId"] == TARGET and r["replicationRegion"] == "eu-west-1"
    )
    assert staged["regions"] == ["eu-west-1"] and staged["regionDecision"] == "requested"


def test_the_spec_alias_answers_like_get_inventory(sb):
    query = {"regions": "us-east-1,eu-west-1", "limit": 4}
    alias = expect(sb, "GET", "/drs/source-server-inventory", 200, query=query)
    main = expect(sb, "GET", "/inventory", 200, query=query)
    assert ids(alias) == ids(main) and alias["nextToken"] == main["nextToken"]
    # a token is bound to its query: other filters are a 400 naming nextToken
    other = expect(sb, "GET", "/inventory", 400, query={"limit": 4, "nextToken": main["nextToken"]})
    assert fields(other) == {"nextToken"}


def test_stale_pairs_are_reported_and_refreshed_from_drs_on_request(sb):
    old = age_pair(sb, TARGET, "eu-west-1")
    bump_region_cache(sb)
    before = sb.drs_calls()["total"]
    page = expect(sb, "GET", "/inventory", 200, query={"regions": "eu-west-1"})
    assert page["source"] == "inventory" and page["freshness"]["fresh"] is False
    assert page["freshness"]["stalePairs"] == [
        {"accountId": TARGET, "region": "eu-west-1", "lastSuccess": old, "status": "AVAILABLE"}
    ]
    assert sb.drs_calls()["total"] == before  # the query side never calls DRS

    refreshed = expect(sb, "POST", "/inventory/refresh", 200, body={"regions": ["eu-west-1"]})
    assert refreshed["source"] == "inventory+drs"
    assert refreshed["refreshedPairs"] == [{"accountId": TARGET, "region": "eu-west-1"}]
    assert refreshed["failedPairs"] == [] and refreshed["serverCount"] == 2
    assert sb.drs_calls()["total"] > before

    after = expect(sb, "GET", "/inventory", 200, query={"regions": "eu-west-1"})
    assert after["freshness"]["fresh"] is True and after["freshness"]["stalePairs"] == []


def test_failback_topology(sb):
    row = next(r for r in sb.items("inventory") if r["accountId"] == TARGET and r["replicationRegion"] == "us-east-1")
    topology = expect(sb, "GET", f"/inventory/{row['sourceServerID']}/failback-topology", 200)
    assert topology["originalSourceRegion"] == "us-east-1" and topology["originalAccountId"] == TARGET
    missing = expect(sb, "GET", "/inventory/s-00000000000000000/failback-topology", 404)
    assert missing["error"] == "ServerNotFound"


# ------------------------------------------------------------------ recovery instances


def test_recovery_instance_check_reads_the_cache(sb):
    cached = sorted(r["sourceServerID"] for r in sb.items("recovery-instances"))
    without = next(r["sourceServerID"] for r in sb.items("inventory") if r["sourceServerID"] not in cached)
    assert len(cached) == 2
    before = sb.drs_calls()["total"]
    answer = expect(sb, "GET", "/recovery-instances", 200, query={"sourceServerIDs": [",".join(cached), without]})
    assert answer["hasExistingInstances"] is True and answer["instanceCount"] == 2
    assert sorted(i["sourceServerID"] for i in answer["existingInstances"]) == cached
    assert answer["unknown"] == []  # the last full sync is fresh and complete: no row means no instance
    assert sb.drs_calls()["total"] == before


def test_terminate_recovery_instances_then_again(sb):
    row = sb.items("recovery-instances")[0]
    before = drs_writes(sb)
    body = {"sourceServerIDs": [row["sourceServerID"]]}
    report = expect(sb, "POST", "/recovery-instances/terminate", 200, body=body)
    assert [t["recoveryInstanceID"] for t in report["terminating"]] == [row["recoveryInstanceID"]]
    assert report["terminated"] == []  # DRS's job has not finished: the row stays, marked
    assert drs_writes(sb) == before + 1  # one TerminateRecoveryInstances
    (marked,) = [r for r in sb.items("recovery-instances") if r["sourceServerID"] == row["sourceServerID"]]
    assert marked["terminateStatus"] == "TERMINATING" and marked["terminateJobID"] == report["jobs"][0]["jobID"]
    sb.advance(JOB_SECONDS["TERMINATE"])
    done = expect(sb, "POST", "/recovery-instances/terminate", 200, body=body)
    assert [t["recoveryInstanceID"] for t in done["terminated"]] == [row["recoveryInstanceID"]]
    assert drs_writes(sb) == before + 1  # the job was asked about, not started again
    assert row["sourceServerID"] not in {r["sourceServerID"] for r in sb.items("recovery-instances")}
    again = expect(sb, "POST", "/recovery-instances/terminate", 200, body=body)
    assert again["summary"]["terminated"] == 0 and again["notInCache"] == [row["sourceServerID"]]


def test_include_recoveries_goes_with_an_execution_only(sb):
    body = {"sourceServerIDs": ["s-0123456789abcdef0"], "includeRecoveries": True}
    answer = expect(sb, "POST", "/recovery-instances/terminate", 400, body=body)
    assert "includeRecoveries" in json.dumps(answer)


# ------------------------------------------------------------------ staging


def test_staging_sync_of_one_target_then_its_audit(sb):
    started, done = start(sb, f"/accounts/targets/{TARGET}/staging-accounts/sync")
    assert started["input"] == {"targetAccounts": [TARGET]} and done["status"] == "SUCCEEDED"
    summary = expect(sb, "GET", started["links"]["execution"], 200)["summary"]
    assert summary["serversExtended"] == 3  # the staging account's three us-east-1 servers

    audit = expect(sb, "GET", "/staging/audit", 200, query={"targetAccountId": TARGET, "regions": "us-east-1"})
    assert audit["count"] == 3 and {e["stagingAccountId"] for e in audit["extensions"]} == {STAGING}
    failures = expect(sb, "GET", "/staging/failures", 200, query={"targetAccountId": TARGET})
    assert failures == {"failures": [], "count": 0}

    # an unknown target (a target without staging accounts: test_accounts.py)
    assert (
        expect(sb, "POST", f"/accounts/targets/{NEW_TARGET}/staging-accounts/sync", 404)["error"] == "AccountNotFound"
    )


def test_a_request_past_api_gateways_29_seconds_is_a_504_while_the_function_runs_on(sb):
    row = sb.items("recovery-instances")[0]
    # DRS answers after 90 s on the sandbox clock: the terminate request outlasts API Gateway's limit
    sb.set_faults([{"accountId": row["accountId"], "operation": "TerminateRecoveryInstances", "latencyMs": 90_000}])
    started = sb.clock.monotonic()
    try:
        body = {"sourceServerIDs": [row["sourceServerID"]]}
        assert sb.api("POST", "/recovery-instances/terminate", body=body) == (
            504,
            {"message": "Endpoint request timed out"},
        )
        assert 29 <= sb.clock.monotonic() - started < 90
        assert sb.lambdas is not None
        lambdas = sb.lambdas
        # The function was not stopped by the gateway: it finishes on its own (its Timeout is longer)
        assert sb.clock.wait_until(lambda: not lambdas._running, None, real_limit=60)
        assert sb.lambdas.invocations[-1].error_type is None
    finally:
        sb.set_faults([])
