"""Disabled and removed accounts are never used: no run, inventory refresh or terminate assumes their role,
and removing an account removes its inventory, region-status and recovery-instance cache rows in the same
request. Each test runs on its own sandbox (it disables or removes a fleet account)."""

from __future__ import annotations

import boto3
import pytest
from api_support import STAGING, TARGET, drs_writes, expect, open_sandbox, recorded_calls

from sandbox import Sandbox

pytestmark = pytest.mark.usefixtures("iam_checked")


@pytest.fixture()
def sb():
    with open_sandbox() as box:
        box.run_sync("inventory", {"mode": "discovery"})
        box.run_sync("recovery-instances")
        yield box


def assumed(calls, account: str) -> list[str]:
    """The functions that called sts:AssumeRole into the account."""
    return sorted(
        {c.function for c in calls if c.operation == "AssumeRole" and f"::{account}:" in c.params.get("RoleArn", "")}
    )


def rows_of(sb: Sandbox, table: str, account: str) -> list[dict]:
    return [r for r in sb.items(table) if r.get("accountId") == account]


def live_recovery_instances(sb: Sandbox, account: str, region: str) -> set[str]:
    drs = sb.client("drs", account=account, region=region)
    pages = drs.get_paginator("describe_recovery_instances").paginate(filters={})
    return {i["recoveryInstanceID"] for p in pages for i in p["items"]}


def make_stale(sb: Sandbox) -> None:
    """Every pair's inventory is older than INVENTORY_FRESH_MINUTES: the refresh would read them all."""
    table = boto3.resource("dynamodb").Table(sb.table_name("region-status"))
    for row in sb.items("region-status"):
        table.update_item(
            Key={"accountId": row["accountId"], "region": row["region"]},
            UpdateExpression="SET lastSuccess = :old",
            ExpressionAttributeValues={":old": "2020-01-01T00:00:00Z"},
        )


def test_a_disabled_account_is_not_assumed_by_a_run_a_refresh_or_a_terminate(sb):
    instances = rows_of(sb, "recovery-instances", TARGET)
    assert instances, "the fixture fleet has recovery instances in the target account"
    expect(sb, "PATCH", f"/accounts/targets/{TARGET}", 200, body={"enabled": False})
    make_stale(sb)
    writes = drs_writes(sb)
    with recorded_calls() as calls:
        for sync in ("inventory", "recovery-instances", "tags"):
            sb.run_sync(sync, {"mode": "discovery"} if sync == "inventory" else None)
        refreshed = expect(sb, "POST", "/inventory/refresh", 200, body={"accountId": TARGET})
        ids = sorted(r["sourceServerID"] for r in instances)
        report = expect(sb, "POST", "/recovery-instances/terminate", 200, body={"sourceServerIDs": ids})
    assert assumed(calls, TARGET) == []
    assert refreshed["refreshedPairs"] == []
    assert report["terminated"] == [] and {f["code"] for f in report["failed"]} == {"AccountDisabled"}
    assert drs_writes(sb) == writes
    assert {r["recoveryInstanceID"] for r in instances} <= live_recovery_instances(sb, TARGET, "us-east-1")


def test_removing_an_account_removes_its_rows_in_one_step_and_nothing_reaches_it_after(sb):
    before = {t: rows_of(sb, t, TARGET) for t in ("inventory", "region-status", "recovery-instances")}
    assert all(before.values()), {t: len(v) for t, v in before.items()}
    others = {t: [r for r in sb.items(t) if r.get("accountId") != TARGET] for t in before}

    removed = expect(sb, "DELETE", f"/accounts/targets/{TARGET}", 200)
    assert removed["rowsRemoved"][TARGET] == {
        "inventoryRows": len(before["inventory"]),
        "regionStatusRows": len(before["region-status"]),
        "recoveryInstanceRows": len(before["recovery-instances"]),
    }
    assert {t: rows_of(sb, t, TARGET) for t in before} == {t: [] for t in before}
    assert {t: [r for r in sb.items(t) if r.get("accountId") != TARGET] for t in before} == others
    # STAGING is listed by another target too: it stays, with its rows
    assert STAGING not in removed["rowsRemoved"] and rows_of(sb, "inventory", STAGING)

    make_stale(sb)
    writes = drs_writes(sb)
    with recorded_calls() as calls:
        sb.run_sync("inventory", {"mode": "discovery"})
        sb.run_sync("recovery-instances")
        expect(sb, "POST", "/inventory/refresh", 200, body={})
        ids = sorted(r["sourceServerID"] for r in before["recovery-instances"])
        report = expect(sb, "POST", "/recovery-instances/terminate", 200, body={"sourceServerIDs": ids})
    assert assumed(calls, TARGET) == []
    assert report["terminated"] == [] and drs_writes(sb) == writes
    assert {t: rows_of(sb, t, TARGET) for t in before} == {t: [] for t in before}
