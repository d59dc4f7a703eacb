"""Direct Lambda invocation of the data-management function with `{"operation": ...}` (the specification's
operations), next to its API Gateway events: the same function, told apart by the event's shape.

Authorization is IAM's alone (lambda:InvokeFunction on the function): the handler inspects no caller.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_support import TARGET, expect, open_sandbox

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


def test_an_api_gateway_event_invoked_directly_is_routed_like_the_api(sb):
    from sandbox.api import ApiGateway

    gateway = ApiGateway(sb)
    route, params, _ = gateway.resolve("GET", f"/accounts/targets/{TARGET}")
    assert route is not None
    event = gateway.event(route, "GET", f"/accounts/targets/{TARGET}", params, {}, None, {}, True)
    error, response = invoke(sb, event)
    assert error is None and response["statusCode"] == 200
    assert json.loads(response["body"])["accountId"] == TARGET
    # an event that names an operation is a direct invocation, whatever else it carries
    error, payload = invoke(sb, {**event, "operation": "get_recovery_instance_sync_status"})
    assert error is None and "status" in payload and "statusCode" not in payload


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
