"""The accounts routes: targets and their staging accounts, then syncs that use what was added.

NEW_TARGET exists in the fleet (its role, with ExternalId `ext-new`, and 4 servers in eu-west-1) but is not
in the accounts table until the API adds it (fleet `registered: false`).
"""

from __future__ import annotations

import pytest
from api_support import NEW_TARGET, OTHER_TARGET, STAGING, TARGET, expect, fields, open_sandbox

pytestmark = pytest.mark.usefixtures("iam_checked")


@pytest.fixture(scope="module")
def sb():
    with open_sandbox() as box:
        yield box


def rows(sb):
    return {r["accountId"]: r for r in sb.items("accounts")}


def test_target_accounts_crud(sb):
    listed = expect(sb, "GET", "/accounts/targets", 200)
    assert [t["accountId"] for t in listed["targets"]] == [TARGET, OTHER_TARGET]
    assert listed["targets"][0]["stagingAccounts"] == [STAGING]
    assert listed["targets"][1]["externalId"] == "ext-other"

    spare = "555555555555"
    created = expect(sb, "POST", "/accounts/targets", 201, body={"accountId": spare, "name": "spare"})
    assert created["effectiveRoleArn"] == f"arn:aws:iam::{spare}:role/DrsFleetSyncRole"
    assert rows(sb)[spare] == {
        "accountId": spare,
        "kind": "target",
        "name": "spare",
        "stagingAccounts": [],
        "enabled": True,
    }
    assert expect(sb, "POST", "/accounts/targets", 409, body={"accountId": spare})["error"] == "AccountConflict"
    taken = expect(sb, "POST", "/accounts/targets", 409, body={"accountId": STAGING})
    assert "staging account" in taken["message"]

    role = f"arn:aws:iam::{spare}:role/DrsFleetSyncRole"
    changed = expect(
        sb, "PATCH", f"/accounts/targets/{spare}", 200, body={"externalId": "ext-spare", "roleArn": role, "name": None}
    )
    assert changed["externalId"] == "ext-spare" and changed["roleArn"] == role and changed["name"] is None
    assert "name" not in rows(sb)[spare]
    assert expect(sb, "GET", f"/accounts/targets/{spare}", 200)["externalId"] == "ext-spare"
    assert expect(sb, "PATCH", f"/accounts/targets/{spare}", 200, body={"enabled": False})["enabled"] is False

    removed = expect(sb, "DELETE", f"/accounts/targets/{spare}", 200)
    assert removed == {
        "accountId": spare,
        "removed": True,
        "stagingAccountsRemoved": [],
        "rowsRemoved": {spare: {"inventoryRows": 0, "regionStatusRows": 0, "recoveryInstanceRows": 0}},
    }
    assert spare not in rows(sb)
    assert expect(sb, "GET", f"/accounts/targets/{spare}", 404)["error"] == "AccountNotFound"
    assert expect(sb, "DELETE", f"/accounts/targets/{spare}", 404)["error"] == "AccountNotFound"
    assert expect(sb, "PATCH", f"/accounts/targets/{spare}", 404, body={"name": "x"})["error"] == "AccountNotFound"
    # a staging account is not a target
    assert expect(sb, "GET", f"/accounts/targets/{STAGING}", 404)["error"] == "AccountNotFound"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"accountId": "12345"}, "accountId"),
        ({"accountId": "555555555555", "roleArn": "arn:aws:iam::999999999999:role/DrsFleetSyncRole"}, "roleArn"),
        ({"accountId": "555555555555", "roleArn": "arn:aws:iam::555555555555:role/Admin"}, "roleArn"),
        ({"accountId": "555555555555", "roleArn": "arn:aws:iam::555555555555:role/ops/DrsFleetSyncRole"}, "roleArn"),
        ({"accountId": "555555555555", "externalId": "x"}, "externalId"),
        ({"accountId": "555555555555", "externalId": "has space"}, "externalId"),
        ({"accountId": "555555555555", "stagingAccounts": [STAGING]}, "stagingAccounts"),
        ({"accountId": "555555555555", "enabled": "yes"}, "enabled"),
        ({}, "accountId"),
    ],
)
def test_a_bad_account_is_rejected_naming_the_field_and_nothing_is_written(sb, body, field):
    before = rows(sb)
    payload = expect(sb, "POST", "/accounts/targets", 400, body=body)
    assert field in fields(payload) or any(e["reason"] and field in e["reason"] for e in payload["errors"]), payload
    assert rows(sb) == before


def test_an_account_added_through_the_api_is_synced_with_its_external_id(sb):
    # NEW_TARGET's role trusts the stack only with ExternalId ext-new; the table does not know it yet
    expect(sb, "POST", "/accounts/targets", 201, body={"accountId": NEW_TARGET, "externalId": "wrong-id"})
    started = expect(sb, "POST", "/syncs/inventory", 202)
    assert sb.wait(started["executionArn"])["status"] == "SUCCEEDED"
    summary = expect(sb, "GET", started["links"]["execution"], 200)["summary"]
    denied = {(e["accountId"], e["code"]) for e in summary["errors"]}
    assert denied == {(NEW_TARGET, "AccessDenied")}  # every pair of the account, nothing else
    statuses = expect(sb, "GET", "/regions", 200, query={"accountId": NEW_TARGET})["statuses"]
    assert {s["status"] for s in statuses} == {"ACCESS_DENIED"}

    # fixed: the pairs that never answered are rescanned by a discovery run of that account (a normal run
    # would wait for the discovery age: the plan knows them as checked, without servers)
    expect(sb, "PATCH", f"/accounts/targets/{NEW_TARGET}", 200, body={"externalId": "ext-new"})
    started = expect(sb, "POST", "/syncs/inventory", 202, body={"accounts": [NEW_TARGET], "mode": "discovery"})
    assert sb.wait(started["executionArn"])["status"] == "SUCCEEDED"
    assert expect(sb, "GET", started["links"]["execution"], 200)["summary"]["errors"] == []
    servers = expect(sb, "GET", "/inventory", 200, query={"accountId": NEW_TARGET, "regions": "eu-west-1"})
    assert servers["count"] == 4 and {s["accountId"] for s in servers["servers"]} == {NEW_TARGET}
    statuses = expect(sb, "GET", "/regions", 200, query={"accountId": NEW_TARGET, "region": "eu-west-1"})["statuses"]
    assert statuses[0]["status"] == "AVAILABLE" and statuses[0]["serverCount"] == 4


def test_staging_accounts_of_a_target_then_the_staging_sync_extends_into_it(sb):
    path = f"/accounts/targets/{OTHER_TARGET}/staging-accounts"
    assert [s["accountId"] for s in expect(sb, "GET", path, 200)["stagingAccounts"]] == [STAGING]
    # off the table (DRS still trusts it): the row stays, TARGET lists it too; nothing left to sync here
    assert expect(sb, "DELETE", f"{path}/{STAGING}", 200)["stagingRowRemoved"] is False
    assert STAGING in rows(sb) and rows(sb)[OTHER_TARGET]["stagingAccounts"] == []
    assert expect(sb, "DELETE", f"{path}/{STAGING}", 404)["error"] == "AccountNotFound"
    assert expect(sb, "POST", f"{path}/sync", 409)["error"] == "Conflict"

    added = expect(sb, "POST", path, 201, body={"accountId": STAGING})
    assert added["kind"] == "staging" and added["targetAccountId"] == OTHER_TARGET
    assert rows(sb)[OTHER_TARGET]["stagingAccounts"] == [STAGING]
    assert rows(sb)[STAGING]["name"] == f"staging-{STAGING}"  # the existing row is reused, not replaced

    assert expect(sb, "POST", path, 409, body={"accountId": STAGING})["error"] == "AccountConflict"
    assert expect(sb, "POST", path, 409, body={"accountId": TARGET})["error"] == "AccountConflict"  # a target
    assert fields(expect(sb, "POST", path, 400, body={"accountId": OTHER_TARGET})) == {"accountId"}
    assert expect(sb, "POST", "/accounts/targets/666666666666/staging-accounts", 404, body={"accountId": STAGING})

    listed = expect(sb, "GET", path, 200)["stagingAccounts"]
    assert [(s["accountId"], s["registered"]) for s in listed] == [(STAGING, True)]
    patched = expect(sb, "PATCH", f"{path}/{STAGING}", 200, body={"name": "shared staging"})
    assert patched["name"] == "shared staging" and patched["kind"] == "staging"

    # the target trusts the staging account again: its staging sync extends the 3 staging servers into it
    started = expect(sb, "POST", f"{path}/sync", 202, body={"regions": ["us-east-1"]})
    assert started["input"] == {"targetAccounts": [OTHER_TARGET], "regions": ["us-east-1"]}
    assert sb.wait(started["executionArn"])["status"] == "SUCCEEDED"
    assert expect(sb, "GET", started["links"]["execution"], 200)["summary"]["serversExtended"] == 3
    audit = expect(sb, "GET", "/staging/audit", 200, query={"targetAccountId": OTHER_TARGET})
    assert audit["count"] == 3 and {e["stagingAccountId"] for e in audit["extensions"]} == {STAGING}


def test_removing_a_target_removes_the_staging_accounts_only_it_used(sb):
    orphan = "777777777777"
    expect(sb, "POST", "/accounts/targets", 201, body={"accountId": "888888888888"})
    expect(sb, "POST", "/accounts/targets/888888888888/staging-accounts", 201, body={"accountId": orphan})
    expect(sb, "POST", "/accounts/targets/888888888888/staging-accounts", 201, body={"accountId": STAGING})
    removed = expect(sb, "DELETE", "/accounts/targets/888888888888", 200)
    assert removed["stagingAccountsRemoved"] == [orphan]
    assert orphan not in rows(sb) and STAGING in rows(sb)
