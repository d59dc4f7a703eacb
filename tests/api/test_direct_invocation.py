"""Direct Lambda invocation of the data-management function with `{"operation": ...}` (the specification's
operations). It serves no API route: an API Gateway event invoked on it, whatever identity it claims, is
refused, and its role could not carry out a write route anyway. The API's write routes have a function of
their own (ManageApiFunction), invoked by API Gateway.

Authorization is IAM's alone (lambda:InvokeFunction on the function): the handler inspects no caller.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_support import TARGET, Call, denied_calls, drs_writes, expect, open_sandbox, role_statements, table_snapshot

EVENTS = Path(__file__).resolve().parents[2] / "events"
OPERATIONS = {
    "sync_source_server_inventory": "inventory",
    "handle_drs_tag_sync": "tags",
    "sync_staging_accounts": "staging",
    "sync_recovery_instances": "recovery-instances",
}


@pytest.fixture(scope="module")
def sb():
    with open_sandbox() as box:
        yield box


def invoke(sb, payload):
    out = sb.client("lambda").invoke(
        FunctionName=sb.function_name("DataManagementFunction"), Payload=json.dumps(payload).encode()
    )
    return out.get("FunctionError"), json.loads(out["Payload"].read())


@pytest.mark.parametrize(("operation", "sync"), sorted(OPERATIONS.items()))
def test_each_sync_operation_starts_its_state_machine(sb, operation, sync):
    error, started = invoke(sb, {"operation": operation, "input": {"regions": ["us-east-1"]}})
    assert error is None, started
    assert started["sync"] == sync
    done = sb.wait(started["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["input"]) == {"regions": ["us-east-1"]}
    assert done["stateMachineArn"] == sb.state_machine_arn(sync)


def test_the_recovery_instance_status_operation_matches_the_api(sb):
    error, status = invoke(sb, {"operation": "get_recovery_instance_sync_status"})
    assert error is None and status["status"] in ("no_sync_yet", "healthy")
    assert expect(sb, "GET", "/drs/recovery-instance-sync/status", 200)["status"] == status["status"]


def test_a_bad_operation_fails_the_invocation_naming_it(sb):
    error, payload = invoke(sb, {"operation": "drop_everything"})
    assert error == "Unhandled" and payload["errorType"] == "InvalidOperation"
    assert "drop_everything" in payload["errorMessage"]
    error, payload = invoke(sb, {"operation": "sync_source_server_inventory", "input": {"accounts": "all"}})
    assert error is None  # the execution's first state rejects the input, as for every start
    assert sb.wait(payload["executionArn"])["status"] == "FAILED"
    error, payload = invoke(sb, {"no": "operation"})
    assert error == "Unhandled" and payload["errorType"] == "InvalidOperation"


def forged(sb, method, path, body=None):
    """An API Gateway event as a caller with lambda:InvokeFunction could write it, identity block and all."""
    from sandbox.api import ApiGateway

    gateway = ApiGateway(sb)
    route, params, _ = gateway.resolve(method, path)
    assert route is not None and route.function == "ManageApiFunction"
    return gateway.event(route, method, path, params, {}, body, {}, True)


def test_a_forged_api_event_invoked_directly_reaches_no_write_route(sb):
    """The probe: a direct invoke shaped like the API changed an account's ExternalId and ran terminate."""
    before = table_snapshot(sb)
    writes = drs_writes(sb)
    for event in (
        forged(sb, "PATCH", f"/accounts/targets/{TARGET}", {"externalId": "attacker-chosen"}),
        forged(sb, "POST", "/recovery-instances/terminate", {"sourceServerIDs": ["s-00000000000000001"]}),
        forged(sb, "DELETE", f"/accounts/targets/{TARGET}"),
    ):
        error, payload = invoke(sb, event)
        assert error == "Unhandled" and payload["errorType"] == "InvalidOperation", payload
        assert "API" in payload["errorMessage"]
    assert table_snapshot(sb) == before and drs_writes(sb) == writes
    # an event that names an operation is a direct invocation, whatever else it carries: it only starts or reads
    event = forged(sb, "PATCH", f"/accounts/targets/{TARGET}", {"externalId": "x"})
    error, payload = invoke(sb, {**event, "operation": "get_recovery_instance_sync_status"})
    assert error is None and "status" in payload and "statusCode" not in payload
    assert table_snapshot(sb) == before


def test_the_write_routes_function_answers_api_gateway_events_only(sb):
    name = sb.function_name("ManageApiFunction")
    for payload in ({"operation": "sync_recovery_instances"}, {"httpMethod": "GET", "path": "/accounts/targets"}):
        out = sb.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload).encode())
        assert out.get("FunctionError") == "Unhandled"
        assert json.loads(out["Payload"].read())["errorType"] == "NotAnApiRequest"
    assert expect(sb, "GET", f"/accounts/targets/{TARGET}", 200)["accountId"] == TARGET  # through the API it serves


def test_the_direct_operations_role_can_only_start_syncs_and_read_their_status(sb):
    statements = role_statements(sb, "DataManagementFunction")
    granted = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    own = {a for a in granted if not a.startswith(("xray:", "logs:"))}
    # a scoped recovery-instance run takes that sync's lock before it starts: that one row, nothing else
    lock = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "states:DescribeExecution"}
    assert own == {"states:StartExecution", *lock}, own
    manage = sb.function_name("DataManagementFunction")
    accounts, state = sb.table_name("accounts"), sb.table_name("sync-state")
    calls = [
        Call(manage, "dynamodb", "UpdateItem", {"TableName": accounts, "Key": {"accountId": TARGET}}),
        Call(manage, "dynamodb", "GetItem", {"TableName": accounts, "Key": {"accountId": TARGET}}),
        Call(manage, "sts", "AssumeRole", {"RoleArn": f"arn:aws:iam::{TARGET}:role/DrsFleetSyncRole"}),
        Call(manage, "dynamodb", "PutItem", {"TableName": state, "Key": {"pk": "lock#inventory", "sk": "lock"}}),
        Call(manage, "dynamodb", "DeleteItem", {"TableName": state, "Key": {"pk": "lock#tags", "sk": "lock"}}),
    ]
    assert len(denied_calls(sb, calls, "DataManagementFunction")) == 5
    allowed = [
        Call(
            manage, "dynamodb", "PutItem", {"TableName": state, "Key": {"pk": "lock#recovery-instances", "sk": "lock"}}
        )
    ]
    assert denied_calls(sb, allowed, "DataManagementFunction") == []


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("api-*.json")))
def test_the_sample_api_events_reach_their_function_and_succeed(sb, name):
    """events/api-*.json (for `sam local invoke` / `sam remote invoke`) are real API Gateway events."""
    from sandbox.api import ApiGateway

    event = json.loads((EVENTS / name).read_text())
    route, _, found = ApiGateway(sb).resolve(event["httpMethod"], event["path"])
    assert found and route is not None and route.path == event["resource"]
    out = sb.client("lambda").invoke(FunctionName=sb.function_name(route.function), Payload=json.dumps(event).encode())
    response = json.loads(out["Payload"].read())
    assert "FunctionError" not in out and 200 <= response["statusCode"] < 300, response
    body = json.loads(response["body"])
    if "executionArn" in body:
        sb.wait(body["executionArn"])
