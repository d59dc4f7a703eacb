"""The staging-account auto-extend end to end on the sandbox: real template, ASL, handlers and simulator."""

import copy
import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sync_contract import checked_summary, drs_pairs, scan_calls

from fleet_sync.core.clock import iso
from fleet_sync.run.region_status import invalidate_region_cache
from fleet_sync.syncs.staging.queries import get_extension_failures
from fleet_sync.syncs.staging.reads import get_extended_source_servers
from sandbox import Sandbox

T1, T2, S1, S2 = "111111111111", "222222222222", "333333333333", "444444444444"
REGIONS = ["ap-south-1", "eu-west-1", "sa-east-1", "us-east-1", "us-west-2"]
PARAMS = {"DrsRegions": ",".join(REGIONS)}
EBS_MESSAGE = "Cannot extend: the staging account encrypts with the default AWS managed EBS key"
# As in AWS (the fleet defaults), DRS is uninitialized in every region an account does not list.
FLEET = {
    "seed": 21,
    "accounts": [
        {
            "accountId": T1,
            "kind": "target",
            "stagingAccounts": [S1, S2],
            # eu-west-1: DRS initialized, nothing there yet (extensions need DRS initialized in the target)
            "regions": {"us-east-1": {"sourceServers": 2, "extendedFrom": {S1: 2}}, "eu-west-1": {}},
        },
        {"accountId": T2, "kind": "target", "stagingAccounts": [S1], "regions": {"us-east-1": {}, "eu-west-1": {}}},
        {
            "accountId": S1,
            "kind": "staging",
            "regions": {"us-east-1": {"sourceServers": 5}, "eu-west-1": {"sourceServers": 3}},
        },
        {"accountId": S2, "kind": "staging", "regions": {"us-east-1": {"sourceServers": 2}}},
    ],
}
TRUST = {T1: (S1, S2), T2: (S1,)}
# T1/us-east-1: 3 of S1 (2 already extended) + 2 of S2; T1/eu-west-1: 3; T2/us-east-1: 5; T2/eu-west-1: 3
EXPECTED_ITEMS = {(T1, "us-east-1"), (T1, "eu-west-1"), (T2, "us-east-1"), (T2, "eu-west-1")}
TO_EXTEND = 16


@pytest.fixture()
def sb():
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters=PARAMS) as box:
        yield box


def status_row(account, region, count, minutes=1):
    ts = iso(datetime.now(UTC) - timedelta(minutes=minutes))
    return {
        "accountId": account,
        "region": region,
        "status": "AVAILABLE",
        "serverCount": count,
        "replicatingCount": count,
        "lastChecked": ts,
        "lastSuccess": ts,
    }


def put_status(sb, rows):
    ddb, ser = sb.client("dynamodb"), TypeSerializer()
    for r in rows:
        ddb.put_item(TableName=sb.table_name("region-status"), Item={k: ser.serialize(v) for k, v in r.items()})
    invalidate_region_cache()


def seed_status(sb):
    """Region status as the inventory sync leaves it for FLEET."""
    counts = {(S1, "us-east-1"): 5, (S1, "eu-west-1"): 3, (S2, "us-east-1"): 2, (T1, "us-east-1"): 4}
    put_status(sb, [status_row(a, r, counts.get((a, r), 0)) for a in (T1, T2, S1, S2) for r in REGIONS])


def servers(sb, account, region):
    drs = sb.client("drs", account=account, region=region)
    try:
        return [s for page in drs.get_paginator("describe_source_servers").paginate() for s in page["items"]]
    except drs.exceptions.UninitializedAccountException:
        return []  # DRS never initialized there: no servers


def extended_from(sb, target, region):
    """Staging-server ARN -> how many servers of `target` extend it."""
    return Counter(
        s["stagingArea"]["stagingSourceServerArn"]
        for s in servers(sb, target, region)
        if s["stagingArea"].get("status") == "EXTENDED"
    )


def staging_arns(sb, target, region):
    return {s["arn"] for staging in TRUST[target] for s in servers(sb, staging, region)}


def creates(sb, account=None, region=None):
    return sum(
        c["calls"]
        for c in sb.drs_calls()["calls"]
        if c["operation"] == "CreateExtendedSourceServer"
        and (account is None or c["accountId"] == account)
        and (region is None or c["region"] == region)
    )


def extension_rows(sb, prefix):
    return [r for r in sb.items("staging-extensions") if r["pk"].startswith(prefix)]


def assert_fully_extended_once(sb):
    for target, region in EXPECTED_ITEMS:
        ext = extended_from(sb, target, region)
        assert set(ext) == staging_arns(sb, target, region), (target, region)
        assert set(ext.values()) == {1}, f"double extension in {target}/{region}: {ext}"


def test_extends_every_trusted_staging_server_once_and_audits_it(sb):
    # Given a fresh inventory (region status of every account)
    assert sb.run_sync("inventory")["status"] == "SUCCEEDED"
    sb.reset_drs_calls()
    # When the staging sync runs
    first = sb.run_sync("staging")
    # Then it visits the target regions where a trusted staging account holds servers, and nothing else
    assert first["status"] == "SUCCEEDED" and first["outcome"] == "complete", first
    checked_summary(first)
    assert {(w["accountId"], w["region"]) for w in first["workItems"]} == EXPECTED_ITEMS
    assert first["decision"] == "filtered" and first["dryRun"] is False
    # And extends every server not extended yet, once
    assert first["serversExtended"] == TO_EXTEND and first["serversFailed"] == 0 and first["failures"] == []
    # The items list staging servers, not source servers of their pair: no serverCount, nothing "synced"
    assert first["serversSynced"] == 0 and first["counts"]["serversExtensible"] == TO_EXTEND
    assert creates(sb) == TO_EXTEND
    assert_fully_extended_once(sb)
    # Property 12: one role assumption per target account in a run, none per item, server or staging account
    assert first["workItemCount"] == len(EXPECTED_ITEMS)
    assert first["apiCalls"]["AssumeRole"] == len({account for account, _ in EXPECTED_ITEMS})
    # one per (target, region, trusted account with servers there: S2 has none in eu-west-1)
    assert first["apiCalls"]["ListExtensibleSourceServers"] == 5
    # And every extension is audited with its execution
    audit = extension_rows(sb, "audit#")
    assert len(audit) == TO_EXTEND
    assert {a["executionArn"] for a in audit} == {first["executionArn"]}
    assert all(a["stagingServerArn"] and a["extendedServerArn"] and a["extendedAt"] for a in audit)
    # And the read helper (for the API) sees the same extensions, region by region
    extended = get_extended_source_servers(
        lambda r: sb.client("drs", account=T1, region=r), [S1, S2], ["us-east-1", "eu-west-1"]
    )
    assert {r: len(v) for r, v in extended.items()} == {"us-east-1": 7, "eu-west-1": 3}
    # When it runs again, there is nothing left to extend
    sb.reset_drs_calls()
    second = sb.run_sync("staging")
    assert second["serversExtended"] == 0 and creates(sb) == 0
    assert second["apiCalls"]["ListExtensibleSourceServers"] == 5


def aws_like_fleet():
    """FLEET where T2 never initialized DRS in eu-west-1, although its staging account S1 has servers there."""
    fleet: dict[str, Any] = copy.deepcopy(FLEET)
    fleet["accounts"][1]["regions"] = {"us-east-1": {}}
    return fleet


def test_steady_state_lists_only_where_staging_servers_are_on_an_aws_like_estate():
    with Sandbox(fleet=aws_like_fleet(), parameters=PARAMS) as box:
        # Given the inventory has run once over every pair (most of them uninitialized)
        inventory = box.run_sync("inventory")
        assert (inventory["outcome"], inventory["errorCount"]) == ("complete", 0), inventory["errors"]
        first = box.run_sync("staging")
        # When the staging sync runs again, with nothing left to extend
        steady = box.run_sync("staging")
        # Then it visits only target regions that are initialized and where a trusted staging account has
        # servers: one ListExtensibleSourceServers per (target, staging account, region) and one AssumeRole per
        # target account, and no errors
        wanted = {(T1, "us-east-1"), (T1, "eu-west-1"), (T2, "us-east-1")}
        for run in (first, steady):
            assert {(w["accountId"], w["region"]) for w in run["workItems"]} == wanted
            assert (run["outcome"], run["errorCount"]) == ("complete", 0), run["errors"]
        assert steady["apiCalls"] == {"AssumeRole": 2, "ListExtensibleSourceServers": 4}  # T1 and T2
        assert first["serversExtended"] == 3 + 2 + 3 + 5


def test_a_target_region_never_initialized_is_known_empty_and_waits_for_the_discovery_age():
    with Sandbox(fleet=aws_like_fleet(), parameters=PARAMS) as box:
        # Given region status of the staging accounts only (the targets were never scanned)
        put_status(box, [status_row(S1, r, {"us-east-1": 5, "eu-west-1": 3}.get(r, 0)) for r in REGIONS])
        put_status(box, [status_row(S2, r, 2 if r == "us-east-1" else 0) for r in REGIONS])
        first = box.run_sync("staging")
        # Then T2/eu-west-1, where DRS answers UninitializedAccountException, is no failure
        assert (T2, "eu-west-1") in {(w["accountId"], w["region"]) for w in first["workItems"]}
        assert (first["outcome"], first["errorCount"]) == ("complete", 0), first["errors"]
        assert first["itemsByStatus"] == {"AVAILABLE": 3, "UNINITIALIZED": 1}
        row = {(r["accountId"], r["region"]): r for r in box.items("region-status")}[(T2, "eu-west-1")]
        assert (row["status"], row["serverCount"]) == ("UNINITIALIZED", 0)
        # and the next run leaves it for the discovery age, with one listing call for it fewer
        second = box.run_sync("staging")
        assert (T2, "eu-west-1") not in {(w["accountId"], w["region"]) for w in second["workItems"]}
        assert second["apiCalls"] == {"AssumeRole": 2, "ListExtensibleSourceServers": 4}  # T1 and T2


def test_a_server_added_between_runs_is_extended_on_the_next_run_and_nothing_else(sb):
    seed_status(sb)
    assert sb.run_sync("staging")["serversExtended"] == TO_EXTEND
    # Given a new agent in the staging account S1 (trusted by T1 and T2)
    [new_id] = sb.add_source_servers(S1, "us-east-1", 1)
    new_arn = f"arn:aws:drs:us-east-1:{S1}:source-server/{new_id}"
    sb.reset_drs_calls()
    # When the next run comes
    summary = sb.run_sync("staging")
    # Then exactly that server is extended, into both targets, and nothing else
    assert summary["serversExtended"] == 2 and creates(sb) == 2
    assert creates(sb, T1, "us-east-1") == creates(sb, T2, "us-east-1") == 1
    assert extended_from(sb, T1, "us-east-1")[new_arn] == extended_from(sb, T2, "us-east-1")[new_arn] == 1
    assert_fully_extended_once(sb)


def test_a_validation_exception_is_deferred_not_retried_every_run(sb):
    seed_status(sb)
    # Given DRS rejects one extension into T1/us-east-1 (the staging account's default EBS key)
    sb.set_faults(
        [
            {
                "accountId": T1,
                "region": "us-east-1",
                "operation": "CreateExtendedSourceServer",
                "error": "ValidationException",
                "message": EBS_MESSAGE,
                "times": 1,
            }
        ]
    )
    first = sb.run_sync("staging")
    # Then the run says so: one failure, visible in the summary and remembered per staging server
    assert first["status"] == "SUCCEEDED"
    assert first["serversFailed"] == 1 and first["serversExtended"] == TO_EXTEND - 1
    [failure] = first["failures"]
    assert failure["code"] == "ValidationException" and failure["targetAccountId"] == T1
    failed_arn = failure["stagingServerArn"]
    [record] = extension_rows(sb, "failure#")
    assert record["sk"] == failed_arn and record["attempts"] == 1 and record["errorMessage"] == EBS_MESSAGE
    # When the next run comes (the cause is not fixed yet), the server is deferred, not retried
    sb.reset_drs_calls()
    second = sb.run_sync("staging")
    assert second["serversDeferred"] == 1 and second["serversFailed"] == 0
    assert creates(sb) == 0
    # And the API's layer function reads the failure, deferred
    ext_table = boto3.resource("dynamodb", region_name="us-east-1").Table(sb.table_name("staging-extensions"))
    [api_view] = get_extension_failures(ext_table, target_account_id=T1, regions=["us-east-1"])
    assert api_view["deferred"] is True and api_view["stagingServerArn"] == failed_arn
    # When its backoff has passed, the next run retries it, and success clears the failure
    sb.client("dynamodb").update_item(
        TableName=sb.table_name("staging-extensions"),
        Key={"pk": {"S": record["pk"]}, "sk": {"S": record["sk"]}},
        UpdateExpression="SET nextAttemptAt = :t",
        ExpressionAttributeValues={":t": {"S": iso(datetime.now(UTC) - timedelta(minutes=1))}},
    )
    third = sb.run_sync("staging")
    assert third["serversExtended"] == 1 and third["serversDeferred"] == 0
    assert extension_rows(sb, "failure#") == []
    assert failed_arn in {a["stagingServerArn"] for a in extension_rows(sb, "audit#")}
    assert_fully_extended_once(sb)


def test_the_replicating_server_quota_defers_the_target_region(sb):
    seed_status(sb)
    sb.set_faults(
        [
            {
                "accountId": T2,
                "region": "eu-west-1",
                "operation": "CreateExtendedSourceServer",
                "error": "ServiceQuotaExceededException",
                "message": "Extending would exceed 300 replicating source servers",
            }
        ]
    )
    first = sb.run_sync("staging")
    assert first["serversFailed"] >= 1 and first["serversFailed"] + first["serversDeferred"] == 3
    assert {f["code"] for f in first["failures"]} == {"ServiceQuotaExceededException"}
    assert [r["sk"] for r in extension_rows(sb, f"failure#{T2}#eu-west-1")] == ["#quota"]
    sb.reset_drs_calls()
    second = sb.run_sync("staging")
    assert creates(sb, T2, "eu-west-1") == 0 and second["serversDeferred"] == 3


def test_throttling_is_retried_within_the_run(sb):
    seed_status(sb)
    sb.set_faults([{"operation": "CreateExtendedSourceServer", "error": "ThrottlingException", "times": 12}])
    summary = sb.run_sync("staging")
    assert summary["status"] == "SUCCEEDED" and summary["errorCount"] == 0, summary
    assert summary["serversExtended"] == TO_EXTEND and summary["serversFailed"] == 0
    throttled = sum(
        o["calls"]
        for o in sb.drs_calls()["outcomes"]
        if o["operation"] == "CreateExtendedSourceServer" and o["outcome"] == "ThrottlingException"
    )
    assert throttled == 12
    assert extension_rows(sb, "failure#") == []
    assert_fully_extended_once(sb)


def test_an_extension_still_throttled_after_every_sdk_attempt_is_tried_once_more_and_lands():
    # S2 holds one server in us-east-1: every throttle below is that server's, so its first extension uses
    # all 9 of the SDK's attempts (max_attempts 8 counts retries) and comes back throttled; the worker's one
    # more pass extends it
    fleet: dict[str, Any] = copy.deepcopy(FLEET)
    fleet["accounts"][3]["regions"]["us-east-1"]["sourceServers"] = 1
    with Sandbox(fleet=fleet, parameters=PARAMS) as box:
        seed_status(box)
        box.set_faults(
            [
                {
                    "operation": "CreateExtendedSourceServer",
                    "stagingAccountId": S2,
                    "error": "ThrottlingException",
                    "times": 9,
                }
            ]
        )
        summary = box.run_sync("staging")
        assert summary["status"] == "SUCCEEDED" and summary["errorCount"] == 0, summary
        assert summary["serversExtended"] == TO_EXTEND - 1 and summary["serversFailed"] == 0
        assert creates(box, account=T1, region="us-east-1") == 3 + 1 + 9  # S1's 3, S2's one, 9 throttled
        (only,) = [s["arn"] for s in servers(box, S2, "us-east-1")]
        assert extended_from(box, T1, "us-east-1")[only] == 1


def test_a_dry_run_reports_what_would_be_extended_and_writes_nothing(sb):
    seed_status(sb)
    summary = sb.run_sync("staging", input={"dryRun": True})
    assert summary["status"] == "SUCCEEDED" and summary["dryRun"] is True
    assert summary["serversToExtend"] == TO_EXTEND and summary["serversExtended"] == 0
    assert len(summary["wouldExtend"]) == TO_EXTEND and summary["wouldExtendOmitted"] == 0
    already = {(T1, a) for a in extended_from(sb, T1, "us-east-1")}
    candidates = {(t, a) for t, r in EXPECTED_ITEMS for a in staging_arns(sb, t, r)}
    assert {(w["targetAccountId"], w["stagingServerArn"]) for w in summary["wouldExtend"]} == candidates - already
    assert creates(sb) == 0 and sb.items("staging-extensions") == []
    # Then the real run extends exactly those
    assert sb.run_sync("staging")["serversExtended"] == TO_EXTEND


def test_target_accounts_narrow_the_run_and_bad_input_fails_first(sb):
    seed_status(sb)
    summary = sb.run_sync("staging", input={"targetAccounts": [T2]})
    assert {w["accountId"] for w in summary["workItems"]} == {T2}
    assert summary["serversExtended"] == 8 and creates(sb, T1) == 0
    for bad in ({"targetAccounts": [S1]}, {"dryRun": "yes"}, {"extend": True}):
        failed = sb.run_sync("staging", input=bad)
        assert failed["status"] == "FAILED" and "InvalidSyncInput" in (failed.get("error") or ""), failed


def test_concurrent_runs_do_not_double_extend(sb):
    seed_status(sb)
    # Given slow listing, so that the first run is still working when the second one starts
    sb.set_faults([{"operation": "ListExtensibleSourceServers", "latencyMs": 1000}])
    first = sb.start_sync("staging")
    second = sb.start_sync("staging")
    a, b = sb.wait(first), sb.wait(second)
    assert a["status"] == b["status"] == "SUCCEEDED"
    decisions = sorted(json.loads(d["output"])["decision"] for d in (a, b))
    assert decisions == ["filtered", "skipped"]  # the lock lets one run through
    assert creates(sb) == TO_EXTEND
    assert_fully_extended_once(sb)


def test_two_workers_racing_on_one_item_extend_each_server_once(sb):
    # Even without the lock (two workers on the same item), DRS's duplicate ValidationException is
    # "already extended", not a failure.
    seed_status(sb)
    sb.set_faults([{"operation": "ListExtensibleSourceServers", "latencyMs": 300}])
    lam, name = sb.client("lambda"), sb.function_name("StagingWorkerFunction")
    results = {}

    def work(run_id):
        item = {"sync": "staging", "runId": run_id, "accountId": T2, "region": "us-east-1", "options": {}}
        out = lam.invoke(FunctionName=name, Payload=json.dumps(item).encode())
        results[run_id] = json.loads(out["Payload"].read())

    threads = [threading.Thread(target=work, args=(f"race-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = [r["counts"] for r in results.values()]
    assert all(r["ok"] for r in results.values()), results
    assert sum(c.get("serversExtended", 0) for c in counts) == 5
    assert sum(c.get("serversFailed", 0) for c in counts) == 0
    assert set(extended_from(sb, T2, "us-east-1").values()) == {1}


def test_direct_invocation_starts_the_staging_sync(sb):
    seed_status(sb)
    lam = sb.client("lambda")
    for payload, dry in (
        ({"operation": "sync_staging_accounts"}, False),
        ({"operation": "sync_staging_accounts", "input": {"dryRun": True}}, True),
    ):
        out = lam.invoke(FunctionName=sb.function_name("DataManagementFunction"), Payload=json.dumps(payload).encode())
        started = json.loads(out["Payload"].read())
        assert started["sync"] == "staging", started
        assert ":drs-fleet-sync-staging-sync:" in started["executionArn"]
        desc = sb.wait(started["executionArn"])
        assert desc["status"] == "SUCCEEDED" and json.loads(desc["output"])["dryRun"] is dry


# ------------------------------------------------------------------ properties 5, 11 and 12


PROP_FLEET = {
    "seed": 23,
    "accounts": [
        # DRS initialized in every region of the targets: the properties are about the staging accounts' regions
        {"accountId": T1, "kind": "target", "stagingAccounts": [S1, S2], "otherRegions": "initialized"},
        {"accountId": T2, "kind": "target", "stagingAccounts": [S1], "otherRegions": "initialized"},
        {"accountId": S1, "kind": "staging", "regions": {"us-east-1": {"sourceServers": 2}}},
        {"accountId": S2, "kind": "staging", "regions": {"eu-west-1": {"sourceServers": 1}}},
    ],
}
# A role assumption is per account, not per pair: the per-pair cost is the listing
SCAN_OPS = ("ListExtensibleSourceServers",)


@pytest.mark.slow
def test_properties_5_11_12_staging_sync_touches_only_regions_where_staging_accounts_have_servers():
    staging_pairs = [(s, r) for s in (S1, S2) for r in REGIONS]
    with Sandbox(fleet=copy.deepcopy(PROP_FLEET), parameters=PARAMS) as sb:
        # The unfiltered cost: every (target, region) pair (a discovery run)
        put_status(sb, [status_row(a, r, 0) for a in (T1, T2, S1, S2) for r in REGIONS])
        everything = sb.run_sync("staging", input={"mode": "discovery"})
        assert everything["workItemCount"] == 2 * len(REGIONS)
        unfiltered = scan_calls(everything, SCAN_OPS)

        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.sets(st.sampled_from(staging_pairs), min_size=1, max_size=4))
        def check(active):
            # Given a region status table where exactly `active` staging pairs hold servers
            put_status(sb, [status_row(s, r, 1 if (s, r) in active else 0) for s, r in staging_pairs])
            sb.reset_drs_calls()
            summary = sb.run_sync("staging")
            assert summary["status"] == "SUCCEEDED" and summary["decision"] == "filtered", summary
            # Property 11: the regions touched are the staging accounts' active regions, per target
            expected = {(t, r) for t, trusted in TRUST.items() for s, r in active if s in trusted}
            assert {(w["accountId"], w["region"]) for w in summary["workItems"]} == expected
            assert drs_pairs(sb) == expected
            # Property 12: one role assumption per target account with work items
            assert summary["apiCalls"]["AssumeRole"] == len({w["accountId"] for w in summary["workItems"]})
            # Property 5: the scan calls fall at least by the share of regions without staging servers
            active_regions = {r for _, r in active}
            assert scan_calls(summary, SCAN_OPS) <= unfiltered * len(active_regions) / len(REGIONS)

        check()
