"""The accounts routes: targets and their staging accounts, then syncs that use what was added.

NEW_TARGET exists in the fleet (its role, with ExternalId `ext-new`, and 4 servers in eu-west-1) but is not
in the accounts table until the API adds it (fleet `registered: false`). The hub generates every ExternalId
(registration, rotation) and returns it once: the operator then deploys the account's role with it.
"""

from __future__ import annotations

import pytest
from api_support import NEW_TARGET, OTHER_TARGET, STAGING, TARGET, deploy_role, expect, fields, open_sandbox

pytestmark = pytest.mark.usefixtures("iam_checked")


@pytest.fixture(scope="module")
def sb():
    with open_sandbox() as box:
        yield box


def rows(sb):
    return {r["accountId"]: r for r in sb.items("accounts")}


def a_hub_external_id(value):
    """An ExternalId the hub drew: 32 random bytes, base64url (43 characters STS accepts)."""
    return isinstance(value, str) and len(value) == 43 and value.replace("-", "").replace("_", "").isalnum()


def test_target_accounts_crud(sb):
    listed = expect(sb, "GET", "/accounts/targets", 200)
    assert [t["accountId"] for t in listed["targets"]] == [TARGET, OTHER_TARGET]
    assert listed["targets"][0]["stagingAccounts"] == [STAGING]
    assert all("externalId" not in t for t in listed["targets"])  # no GET returns an ExternalId

    spare = "555555555555"
    created = expect(sb, "POST", "/accounts/targets", 201, body={"accountId": spare, "name": "spare"})
    assert created["effectiveRoleArn"] == f"arn:aws:iam::{spare}:role/DrsFleetSyncRole"
    assert a_hub_external_id(created["externalId"])  # returned once, in the registration's answer
    assert rows(sb)[spare] == {
        "accountId": spare,
        "kind": "target",
        "name": "spare",
        "externalId": created["externalId"],
        "stagingAccounts": [],
        "enabled": True,
    }
    assert expect(sb, "POST", "/accounts/targets", 409, body={"accountId": spare})["error"] == "AccountConflict"
    taken = expect(sb, "POST", "/accounts/targets", 409, body={"accountId": STAGING})
    assert "staging account" in taken["message"]
    assert rows(sb)[spare]["externalId"] == created["externalId"]  # a refused registration draws nothing

    role = f"arn:aws:iam::{spare}:role/DrsFleetSyncRole"
    changed = expect(sb, "PATCH", f"/accounts/targets/{spare}", 200, body={"roleArn": role, "name": None})
    assert changed["roleArn"] == role and changed["name"] is None and "externalId" not in changed
    assert "name" not in rows(sb)[spare]
    assert "externalId" not in expect(sb, "GET", f"/accounts/targets/{spare}", 200)
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


def test_no_caller_sets_or_removes_an_external_id_and_rotation_draws_a_new_one(sb):
    before = rows(sb)
    for value in ("ext-chosen-by-the-caller", None):
        refused = expect(sb, "PATCH", f"/accounts/targets/{TARGET}", 400, body={"externalId": value, "name": "x"})
        assert fields(refused) == {"externalId"} and "generates" in refused["errors"][0]["reason"]
    assert rows(sb) == before

    first = expect(sb, "POST", f"/accounts/targets/{OTHER_TARGET}/external-id", 200)
    second = expect(sb, "POST", f"/accounts/targets/{OTHER_TARGET}/external-id", 200)
    assert first["accountId"] == OTHER_TARGET and first["kind"] == "target"
    assert a_hub_external_id(first["externalId"]) and a_hub_external_id(second["externalId"])
    assert len({before[OTHER_TARGET]["externalId"], first["externalId"], second["externalId"]}) == 3
    deploy_role(sb, OTHER_TARGET, second["externalId"])  # the operator's step after a rotation
    assert rows(sb)[OTHER_TARGET] == {**before[OTHER_TARGET], "externalId": second["externalId"]}
    assert {k: v for k, v in rows(sb).items() if k != OTHER_TARGET} == {
        k: v for k, v in before.items() if k != OTHER_TARGET
    }
    # only a registered account of that kind, under its own route
    assert expect(sb, "POST", "/accounts/targets/555555555556/external-id", 404)["error"] == "AccountNotFound"
    assert expect(sb, "POST", f"/accounts/targets/{STAGING}/external-id", 404)["error"] == "AccountNotFound"
    path = f"/accounts/targets/{TARGET}/staging-accounts/{NEW_TARGET}/external-id"
    assert expect(sb, "POST", path, 404)["error"] == "AccountNotFound"
    assert fields(expect(sb, "POST", "/accounts/targets/12/external-id", 400)) == {"accountId"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"accountId": "12345"}, "accountId"),
        ({"accountId": "555555555555", "roleArn": "arn:aws:iam::999999999999:role/DrsFleetSyncRole"}, "roleArn"),
        ({"accountId": "555555555555", "roleArn": "arn:aws:iam::555555555555:role/Admin"}, "roleArn"),
        ({"accountId": "555555555555", "roleArn": "arn:aws:iam::555555555555:role/ops/DrsFleetSyncRole"}, "roleArn"),
        ({"accountId": "555555555555", "externalId": "x"}, "externalId"),
        ({"accountId": "555555555555", "externalId": "has space"}, "externalId"),
        ({"accountId": "555555555555", "externalId": "a-valid-sts-external-id"}, "externalId"),  # hub's only
        ({"accountId": "555555555555", "externalId": None}, "externalId"),
        ({"accountId": "555555555555", "stagingAccounts": [STAGING]}, "stagingAccounts"),
        ({"accountId": "555555555555", "enabled": "yes"}, "enabled"),
        ({"accountId": "555555555555", "allowedDrsAccounts": ["12345"]}, "allowedDrsAccounts.0"),
        ({"accountId": "555555555555", "allowedDrsAccounts": TARGET}, "allowedDrsAccounts"),
        ({"accountId": "555555555555", "allowedDrsAccounts": ["777777777777"]}, "allowedDrsAccounts"),  # unknown
        ({"accountId": "555555555555", "allowedDrsAccounts": ["555555555555"]}, "allowedDrsAccounts"),  # itself
        ({}, "accountId"),
    ],
)
def test_a_bad_account_is_rejected_naming_the_field_and_nothing_is_written(sb, body, field):
    before = rows(sb)
    payload = expect(sb, "POST", "/accounts/targets", 400, body=body)
    assert field in fields(payload) or any(e["reason"] and field in e["reason"] for e in payload["errors"]), payload
    assert rows(sb) == before


def test_allowed_drs_accounts_are_set_by_registration_and_patch_checked_and_audited(sb):
    since = len(sb.logs("ManageApiFunction"))
    path = f"/accounts/targets/{OTHER_TARGET}"
    # a target lets TARGET's servers read its EC2; duplicates collapse, the answer and a GET show the list
    body = {"allowedDrsAccounts": [TARGET, STAGING, TARGET]}
    changed = expect(sb, "PATCH", path, 200, body=body)
    assert changed["allowedDrsAccounts"] == [TARGET, STAGING]
    assert expect(sb, "GET", path, 200)["allowedDrsAccounts"] == [TARGET, STAGING]
    assert rows(sb)[OTHER_TARGET]["allowedDrsAccounts"] == [TARGET, STAGING]
    # every id must be a registered account other than itself; a refused PATCH writes nothing
    for bad in (["777777777777"], [OTHER_TARGET], ["1234"], [TARGET] * 1001):
        refused = expect(sb, "PATCH", path, 400, body={"allowedDrsAccounts": bad})
        assert {f.split(".")[0] for f in fields(refused)} == {"allowedDrsAccounts"}, refused
    assert rows(sb)[OTHER_TARGET]["allowedDrsAccounts"] == [TARGET, STAGING]
    # a staging account of a target may list DRS accounts too
    staging_path = f"/accounts/targets/{TARGET}/staging-accounts/{STAGING}"
    staging = expect(sb, "PATCH", staging_path, 200, body={"allowedDrsAccounts": [TARGET]})
    assert staging["allowedDrsAccounts"] == [TARGET]
    # [] and null are the default (none but itself): the attribute goes
    assert expect(sb, "PATCH", path, 200, body={"allowedDrsAccounts": []})["allowedDrsAccounts"] == []
    assert "allowedDrsAccounts" not in rows(sb)[OTHER_TARGET]
    assert expect(sb, "PATCH", staging_path, 200, body={"allowedDrsAccounts": None})["allowedDrsAccounts"] == []
    assert "allowedDrsAccounts" not in rows(sb)[STAGING]
    # registration takes the list too
    spare = "555555555555"
    created = expect(sb, "POST", "/accounts/targets", 201, body={"accountId": spare, "allowedDrsAccounts": [TARGET]})
    assert created["allowedDrsAccounts"] == [TARGET] and rows(sb)[spare]["allowedDrsAccounts"] == [TARGET]
    expect(sb, "DELETE", f"/accounts/targets/{spare}", 200)
    # each change is audited with its caller, request and the account it changed
    audits = [r["audit"] for r in sb.logs("ManageApiFunction")[since:] if r.get("message") == "write request"]
    patches = [a for a in audits if a["method"] == "PATCH" and a["status"] == 200]
    assert patches[0]["request"] == body and patches[0]["affected"]["accountId"] == [OTHER_TARGET]
    assert all(a["callerArn"] for a in audits)
    assert [a["status"] for a in audits if a["method"] == "PATCH"] == [200, 400, 400, 400, 400, 200, 200, 200]


def test_an_account_added_through_the_api_is_synced_with_the_external_id_the_hub_returned(sb):
    # NEW_TARGET's role (deployed before registration) trusts the stack only with ExternalId ext-new
    created = expect(sb, "POST", "/accounts/targets", 201, body={"accountId": NEW_TARGET})
    started = expect(sb, "POST", "/syncs/inventory", 202)
    assert sb.wait(started["executionArn"])["status"] == "SUCCEEDED"
    summary = expect(sb, "GET", started["links"]["execution"], 200)["summary"]
    denied = {(e["accountId"], e["code"]) for e in summary["errors"]}
    assert denied == {(NEW_TARGET, "AccessDenied")}  # every pair of the account, nothing else
    statuses = expect(sb, "GET", "/regions", 200, query={"accountId": NEW_TARGET})["statuses"]
    assert {s["status"] for s in statuses} == {"ACCESS_DENIED"}

    # the operator deploys the account's role stack with the ExternalId the registration returned; the pairs
    # that never answered are rescanned by a discovery run of that account (a normal run would wait for the
    # discovery age: the plan knows them as checked, without servers)
    deploy_role(sb, NEW_TARGET, created["externalId"])
    started = expect(sb, "POST", "/syncs/inventory", 202, body={"accounts": [NEW_TARGET], "mode": "discovery"})
    assert sb.wait(started["executionArn"])["status"] == "SUCCEEDED"
    assert expect(sb, "GET", started["links"]["execution"], 200)["summary"]["errors"] == []
    servers = expect(sb, "GET", "/inventory", 200, query={"accountId": NEW_TARGET, "regions": "eu-west-1"})
    assert servers["count"] == 4 and {s["accountId"] for s in servers["servers"]} == {NEW_TARGET}
    statuses = expect(sb, "GET", "/regions", 200, query={"accountId": NEW_TARGET, "region": "eu-west-1"})["statuses"]
    assert statuses[0]["status"] == "AVAILABLE" and statuses[0]["serverCount"] == 4

    # rotated: the hub presents the new ExternalId from then on (the role redeployed with it alone answers)
    rotated = expect(sb, "POST", f"/accounts/targets/{NEW_TARGET}/external-id", 200)["externalId"]
    deploy_role(sb, NEW_TARGET, rotated)
    started = expect(sb, "POST", "/syncs/inventory", 202, body={"accounts": [NEW_TARGET], "mode": "discovery"})
    assert sb.wait(started["executionArn"])["status"] == "SUCCEEDED"
    assert expect(sb, "GET", started["links"]["execution"], 200)["summary"]["errors"] == []


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
    assert "externalId" not in added  # a reused row keeps its ExternalId, returned when it was registered
    assert rows(sb)[OTHER_TARGET]["stagingAccounts"] == [STAGING]
    assert rows(sb)[STAGING]["name"] == f"staging-{STAGING}"  # the existing row is reused, not replaced

    assert expect(sb, "POST", path, 409, body={"accountId": STAGING})["error"] == "AccountConflict"
    assert expect(sb, "POST", path, 409, body={"accountId": TARGET})["error"] == "AccountConflict"  # a target
    assert fields(expect(sb, "POST", path, 400, body={"accountId": OTHER_TARGET})) == {"accountId"}
    assert expect(sb, "POST", "/accounts/targets/666666666666/staging-accounts", 404, body={"accountId": STAGING})

    listed = expect(sb, "GET", path, 200)["stagingAccounts"]
    assert [(s["accountId"], s["registered"]) for s in listed] == [(STAGING, True)]
    assert "externalId" not in listed[0]
    patched = expect(sb, "PATCH", f"{path}/{STAGING}", 200, body={"name": "shared staging"})
    assert patched["name"] == "shared staging" and patched["kind"] == "staging" and "externalId" not in patched

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
    path = "/accounts/targets/888888888888/staging-accounts"
    refused = expect(sb, "POST", path, 400, body={"accountId": orphan, "externalId": "ext-chosen"})
    assert fields(refused) == {"externalId"} and orphan not in rows(sb)
    added = expect(sb, "POST", path, 201, body={"accountId": orphan})
    assert a_hub_external_id(added["externalId"]) and rows(sb)[orphan]["externalId"] == added["externalId"]
    rotated = expect(sb, "POST", f"{path}/{orphan}/external-id", 200)
    assert rotated["kind"] == "staging" and a_hub_external_id(rotated["externalId"])
    assert rotated["externalId"] != added["externalId"] and rows(sb)[orphan]["externalId"] == rotated["externalId"]
    expect(sb, "POST", path, 201, body={"accountId": STAGING})
    removed = expect(sb, "DELETE", "/accounts/targets/888888888888", 200)
    assert removed["stagingAccountsRemoved"] == [orphan]
    assert orphan not in rows(sb) and STAGING in rows(sb)


def test_an_account_row_without_an_external_id_is_never_assumed(sb):
    # a row written around the API (the API never writes one without an ExternalId)
    bare = "999999999990"
    table = sb.client("dynamodb").describe_table(TableName=sb.table_name("accounts"))["Table"]["TableName"]
    sb.client("dynamodb").put_item(
        TableName=table,
        Item={"accountId": {"S": bare}, "kind": {"S": "target"}, "enabled": {"BOOL": True}},
    )
    started = expect(sb, "POST", "/syncs/inventory", 202, body={"accounts": [bare], "regions": ["eu-west-1"]})
    assert sb.wait(started["executionArn"])["status"] == "SUCCEEDED"
    errors = expect(sb, "GET", started["links"]["execution"], 200)["summary"]["errors"]
    assert {(e["accountId"], e["code"]) for e in errors} == {(bare, "AccountWithoutExternalId")}
    assert "ExternalId" in errors[0]["message"]
    # a rotation gives it one
    assert a_hub_external_id(expect(sb, "POST", f"/accounts/targets/{bare}/external-id", 200)["externalId"])
    expect(sb, "DELETE", f"/accounts/targets/{bare}", 200)
