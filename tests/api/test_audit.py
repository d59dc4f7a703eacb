"""Every write request to the API is logged with the caller's IAM ARN (from requestContext.identity, which API
Gateway's AWS_IAM authorization sets), the request (secrets redacted) and the ids it affected; reads are not.
The records are read from the manage function's log group in CloudWatch Logs, as an operator would."""

from __future__ import annotations

import pytest
from api_support import TARGET, expect, open_sandbox, wait_all

CALLER = "arn:aws:iam::{account}:user/sandbox-operator"  # the sandbox's signed caller (sandbox/api.py)


@pytest.fixture(scope="module")
def sb():
    with open_sandbox() as box:
        yield box


def audits(sb, since: int = 0) -> list[dict]:
    """The audit records of the manage function's log group, from the `since`-th log line on."""
    lines = sb.logs("ManageApiFunction")[since:]
    return [r["audit"] for r in lines if r.get("message") == "write request"]


def log_length(sb) -> int:
    return len(sb.logs("ManageApiFunction"))


def test_a_write_request_is_logged_with_its_caller_request_and_affected_ids(sb):
    since = log_length(sb)
    expect(sb, "PATCH", f"/accounts/targets/{TARGET}", 400, body={"externalId": "secret-ext-1", "name": "prod"})
    started = expect(sb, "POST", "/syncs/tags", 202, body={"regions": ["us-east-1"]})
    expect(sb, "GET", f"/accounts/targets/{TARGET}", 200)
    expect(sb, "POST", "/syncs/nope", 400, body={})
    wait_all(sb)
    records = audits(sb, since)
    assert [(r["method"], r["route"], r["status"]) for r in records] == [
        ("PATCH", "/accounts/targets/{accountId}", 400),  # refused (no caller sets an ExternalId), audited
        ("POST", "/syncs/{sync}", 202),
        ("POST", "/syncs/{sync}", 400),
    ]
    patch, start, rejected = records
    caller = CALLER.format(account=sb.account)
    assert {r["callerArn"] for r in records} == {caller}
    assert patch["request"] == {"externalId": "<redacted>", "name": "prod"}
    assert patch["affected"] == {} and patch["pathParameters"] == {"accountId": TARGET}
    assert start["affected"]["executionArn"] == [started["executionArn"]]
    assert rejected["affected"] == {} and rejected["request"] == {}
    assert all(r["requestId"] for r in records)
    assert "secret-ext-1" not in repr(sb.logs("ManageApiFunction"))  # an ExternalId is never logged


def test_the_external_ids_the_hub_returns_are_never_logged_and_each_issue_is_audited(sb):
    since = log_length(sb)
    new = "555555555555"
    created = expect(sb, "POST", "/accounts/targets", 201, body={"accountId": new})
    staging = expect(sb, "POST", f"/accounts/targets/{new}/staging-accounts", 201, body={"accountId": "666666666666"})
    rotated = expect(sb, "POST", f"/accounts/targets/{new}/external-id", 200)
    secrets = [created["externalId"], staging["externalId"], rotated["externalId"]]
    assert len(set(secrets)) == 3 and all(len(s) >= 32 for s in secrets)
    records = audits(sb, since)
    assert [(r["route"], r["status"]) for r in records] == [
        ("/accounts/targets", 201),
        ("/accounts/targets/{accountId}/staging-accounts", 201),
        ("/accounts/targets/{accountId}/external-id", 200),
    ]
    assert records[2]["affected"]["accountId"] == [new] and records[2]["callerArn"] == CALLER.format(account=sb.account)
    logged = repr(sb.logs("ManageApiFunction"))
    assert not [s for s in secrets if s in logged]
    expect(sb, "DELETE", f"/accounts/targets/{new}", 200)


def test_the_log_line_names_the_caller_api_gateway_set_not_one_the_body_claims(sb):
    since = log_length(sb)
    body = {"regions": ["us-east-1"], "callerArn": "arn:aws:iam::999999999999:user/someone-else"}
    expect(sb, "POST", "/syncs/tags", 400, body=body)  # an unknown field is rejected, and still audited
    (record,) = audits(sb, since)
    assert record["callerArn"] == CALLER.format(account=sb.account) and record["status"] == 400


def test_every_assume_role_names_its_sync_and_execution_in_session_tags(sb):
    from api_support import recorded_calls

    with recorded_calls() as calls:
        started = expect(sb, "POST", "/syncs/inventory", 202, body={"regions": ["us-east-1"]})
        sb.wait(started["executionArn"])
        expect(sb, "POST", "/inventory/refresh", 200, body={"regions": ["us-east-1"]})
    assumes = [c for c in calls if c.operation == "AssumeRole"]
    assert assumes
    tags = [{t["Key"]: t["Value"] for t in c.params["Tags"]} for c in assumes]
    worker = sb.function_name("InventoryWorkerFunction")
    by_worker = [t for c, t in zip(assumes, tags, strict=True) if c.function == worker]
    assert by_worker and all(
        t == {"drs-fleet-sync:sync": "inventory", "drs-fleet-sync:execution": started["executionName"]}
        for t in by_worker
    )
    assert all(set(t) == {"drs-fleet-sync:sync", "drs-fleet-sync:execution"} and all(t.values()) for t in tags)
