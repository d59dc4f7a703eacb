"""The API in template.yaml: routes in step with the OpenAPI document, IAM authorization on every method,
and the two functions' policies (the query function can only read; the data-management function assumes
only the fleet role). Read from the template as SAM translates it, without deploying anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet_sync.api.openapi import FUNCTIONS, build_openapi, routes
from sandbox import stack
from sandbox.api import routes_of

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi" / "openapi.json"
CATCH_ALL = ("ANY", "/{proxy+}")
READ_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:DescribeTable",
    "states:DescribeExecution",
    "states:ListExecutions",
}
OUR_TABLES = {
    "AccountsTable",
    "RegionStatusTable",
    "InventoryTable",
    "SyncStateTable",
    "RecoveryInstancesCacheTable",
    "StagingExtensionsTable",
}


@pytest.fixture(scope="module")
def translated():
    return stack.translate(ROOT / "template.yaml")


def policy_statements(translated, function):
    role = translated.cfn["Resources"][f"{function}Role"]["Properties"]
    out = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for res in translated.cfn["Resources"].values():  # standalone policies attached to the role
        if res["Type"] == "AWS::IAM::Policy" and {"Ref": f"{function}Role"} in res["Properties"].get("Roles", []):
            out += res["Properties"]["PolicyDocument"]["Statement"]
    return out


def actions(statement):
    a = statement["Action"]
    return [a] if isinstance(a, str) else a


def resources(statement):
    r = statement["Resource"]
    return r if isinstance(r, list) else [r]


# ------------------------------------------------------------------ the OpenAPI document


def test_the_committed_openapi_document_is_the_generated_one():
    committed = json.loads(COMMITTED.read_text())
    assert committed == build_openapi(), (
        "openapi/openapi.json is out of date: PYTHONPATH=functions/shared .venv/bin/python -m fleet_sync.api.openapi "
        "> openapi/openapi.json"
    )


def test_the_document_is_valid_openapi():
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(json.loads(COMMITTED.read_text()))


def test_every_documented_route_is_routed_by_the_template_to_its_function_and_nothing_else(translated):
    documented = routes(json.loads(COMMITTED.read_text()))
    declared = {}
    for r in routes_of(translated.sam):
        assert r.api == "FleetSyncApi", f"{r.function} {r.method} {r.path} is on another API"
        assert (r.method, r.path) not in declared, f"{r.method} {r.path} is declared twice"
        declared[(r.method, r.path)] = r.function
    assert declared.pop(CATCH_ALL) == FUNCTIONS["query"]  # unknown paths: the read-only function's 404
    assert declared == documented
    assert set(documented.values()) == set(FUNCTIONS.values())


HANDS_OFF = {("post", "/inventory/refresh")}


def test_errors_are_documented_as_the_functions_answer_them():
    doc = json.loads(COMMITTED.read_text())
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            codes = set(op["responses"])
            assert "422" not in codes and {"403", "500"} <= codes, (method, path)
            if op.get("parameters") or op.get("requestBody"):
                assert "400" in codes, f"{method.upper()} {path} validates input but documents no 400"
            success = {c for c in codes if c.startswith("2")}
            # one success status; a route that may hand the rest of its work to a run answers 200 or 202
            expected = [{"200", "202"}] if (method, path) in HANDS_OFF else [{c} for c in success][:1]
            assert len(success) >= 1 and [success] == expected, (method, path, codes)
    assert doc["security"] == [{"sigv4": []}]


# ------------------------------------------------------------------ API Gateway


def test_every_method_requires_iam_and_api_gateway_invokes_through_resource_permissions(translated):
    api = translated.sam["Resources"]["FleetSyncApi"]["Properties"]
    assert api["Auth"] == {"DefaultAuthorizer": "AWS_IAM", "InvokeRole": "NONE"}
    for lid, res in translated.sam["Resources"].items():
        for name, event in ((res.get("Properties") or {}).get("Events") or {}).items():
            if event["Type"] == "Api":
                assert "Auth" not in event["Properties"], f"{lid}.{name} overrides the API's authorization"
    body = translated.cfn["Resources"]["FleetSyncApi"]["Properties"]["Body"]
    for path, operations in body["paths"].items():
        for method, op in operations.items():
            assert op["security"] == [{"AWS_IAM": []}], (method, path)
            assert "credentials" not in op["x-amazon-apigateway-integration"], (method, path)


# ------------------------------------------------------------------ the two functions' policies


def test_the_query_function_can_only_read(translated):
    statements = policy_statements(translated, FUNCTIONS["query"])
    granted = {a for s in statements for a in actions(s)}
    assert granted <= READ_ACTIONS, f"not read-only: {sorted(granted - READ_ACTIONS)}"
    for s in statements:
        assert s["Effect"] == "Allow" and "*" not in resources(s)
        for resource in resources(s):
            text = json.dumps(resource)
            if "dynamodb" in text:
                assert resource["Fn::Sub"][1]["tableName"]["Ref"] in OUR_TABLES
            else:  # the stack's own state machines and executions
                assert "${AWS::StackName}-*" in text and (":stateMachine:" in text or ":execution:" in text)


def test_the_data_management_function_assumes_only_the_fleet_role_and_starts_only_the_stacks_syncs(translated):
    statements = policy_statements(translated, FUNCTIONS["manage"])
    for s in statements:
        assert not any(a == "*" or a.endswith(":*") for a in actions(s))
        if "sts:AssumeRole" in actions(s):
            assert actions(s) == ["sts:AssumeRole", "sts:TagSession"]
            assert resources(s) == [{"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${CrossAccountRoleName}"}]
        if "states:StartExecution" in actions(s):
            assert "${AWS::StackName}-*" in json.dumps(resources(s))
        for resource in resources(s):
            if "dynamodb" in json.dumps(resource) and isinstance(resource, dict) and "Fn::Sub" in resource:
                ref = resource["Fn::Sub"][1]["tableName"]["Ref"] if isinstance(resource["Fn::Sub"], list) else None
                assert ref is None or ref in OUR_TABLES


def test_the_enums_the_api_accepts_are_the_layers_and_drs_own():
    import typing

    import botocore.session

    from fleet_sync.api.models import RegionStatusName, ReplicationState, SyncName
    from fleet_sync.core.regions import STATUSES
    from fleet_sync.run.registry import SYNCS

    assert set(typing.get_args(RegionStatusName)) == set(STATUSES)
    assert set(typing.get_args(SyncName)) == set(SYNCS)
    drs = botocore.session.get_session().get_service_model("drs")
    assert set(drs.shape_for("DataReplicationState").enum) | {"UNKNOWN"} == set(typing.get_args(ReplicationState))
