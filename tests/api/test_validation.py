"""Every input is validated before anything happens: a bad request is a 400 naming the field and the reason,
and the function made no AWS call at all for it (no table read or write, no DRS call, no execution)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from api_support import (
    STAGING,
    TARGET,
    drs_writes,
    execution_count,
    expect,
    open_sandbox,
    recorded_calls,
    table_snapshot,
)

from fleet_sync.syncs.inventory.pages import fingerprint

ID = "s-0123456789abcdef0"
FOREIGN_KEY = {"accountRegion": f"{TARGET}#eu-west-1", "sourceServerID": ID, "replicationRegion": "eu-west-1"}


@pytest.fixture(scope="module")
def sb():
    with open_sandbox() as box:
        yield box


def forged_token(regions=("us-east-1",), key=None, query="0" * 16):
    raw = json.dumps({"v": 1, "q": query, "g": list(regions), "r": 0, "k": key})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BAD_REQUESTS: list[tuple[str, str, dict[str, Any] | None, Any, set[str]]] = [
    # (method, path, query, body, fields the 400 must name)
    ("GET", "/inventory", {"limit": "0"}, None, {"limit"}),
    ("GET", "/inventory", {"limit": "many"}, None, {"limit"}),
    ("GET", "/inventory", {"limit": "501"}, None, {"limit"}),
    ("GET", "/inventory", {"regions": "mars-north-1"}, None, {"regions"}),  # not a region this stack considers
    ("GET", "/inventory", {"regions": "us-east-1;drop"}, None, {"regions.0"}),
    ("GET", "/inventory", {"regions": ","}, None, {"regions.0"}),
    ("GET", "/inventory", {"replicationState": "HAPPY"}, None, {"replicationState"}),
    ("GET", "/inventory", {"accountId": "12345"}, None, {"accountId"}),
    ("GET", "/inventory", {"sourceAccountId": "x" * 12}, None, {"sourceAccountId"}),
    ("GET", "/inventory", {"hostname": "h" * 256}, None, {"hostname"}),
    ("GET", "/inventory", {"nextToken": "not a token!"}, None, {"nextToken"}),
    ("GET", "/inventory", {"nextToken": "bm90IGpzb24"}, None, {"nextToken"}),
    ("GET", "/inventory", {"nextToken": forged_token()}, None, {"nextToken"}),  # another query's fingerprint
    (  # the right fingerprint, a start key from another region: DynamoDB would answer ValidationException
        "GET",
        "/inventory",
        {"nextToken": forged_token(query=fingerprint({}, None), key=FOREIGN_KEY)},
        None,
        {"nextToken"},
    ),
    ("GET", "/inventory", {"region": "us-east-1"}, None, {"region"}),  # a typo of regions must not list everything
    ("GET", "/inventory", {"limit": "5", "nextTokn": "x", "acountId": TARGET}, None, {"nextTokn", "acountId"}),
    ("GET", "/regions", {"regions": "us-east-1"}, None, {"regions"}),
    ("GET", "/syncs", {"verbose": "1"}, None, {"verbose"}),
    ("GET", "/drs/source-server-inventory", {"limit": "-1"}, None, {"limit"}),
    ("GET", "/inventory/s-123/failback-topology", None, None, {"sourceServerID"}),
    ("GET", "/recovery-instances", None, None, {"sourceServerIDs"}),
    ("GET", "/recovery-instances", {"sourceServerIDs": "i-123"}, None, {"sourceServerIDs.0"}),
    ("GET", "/recovery-instances", {"sourceServerIDs": [ID, f"{ID},s-1"]}, None, {"sourceServerIDs.1"}),
    (
        "GET",
        "/recovery-instances",
        {"sourceServerIDs": [f"s-{i:017d}" for i in range(201)]},
        None,
        {"sourceServerIDs"},
    ),
    ("GET", "/regions", {"accountId": "abc"}, None, {"accountId"}),
    ("GET", "/regions", {"status": "SLEEPY"}, None, {"status"}),
    ("GET", "/regions", {"region": "atlantis-1"}, None, {"region"}),
    ("GET", "/syncs/everything/status", None, None, {"sync"}),
    ("GET", "/syncs/inventory/executions", {"limit": "1000"}, None, {"limit"}),
    ("GET", "/syncs/inventory/executions", {"status": "DONE"}, None, {"status"}),
    ("GET", "/syncs/inventory/executions/bad%20name", None, None, {"executionName"}),
    ("GET", "/staging/audit", None, None, {"targetAccountId"}),
    ("GET", "/staging/failures", {"regions": "us-east-1"}, None, {"regions"}),  # regions narrows one target
    ("POST", "/syncs/inventory", None, {"accounts": ["1"]}, {"accounts.0"}),
    ("POST", "/syncs/inventory", None, {"accounts": []}, {"accounts"}),
    ("POST", "/syncs/inventory", None, {"everything": True}, {"everything"}),
    ("POST", "/syncs/inventory", None, {"mode": "full"}, {"mode"}),
    ("POST", "/syncs/inventory", None, {"dryRun": True}, {"dryRun"}),  # the staging sync's option
    ("POST", "/syncs/inventory", None, {"regions": ["eu-central-1"]}, {"regions"}),  # not in DrsRegions
    ("POST", "/syncs/tags", None, "{not json", {"body"}),
    ("POST", "/syncs/tags", None, [], {"body"}),
    ("POST", "/syncs/staging", None, {"dryRun": "yes"}, {"dryRun"}),
    ("POST", "/syncs/recovery-instances", None, {"accountId": TARGET}, {"body"}),  # a wave needs all four
    ("POST", "/syncs/nothing", None, {}, {"sync"}),
    ("POST", "/drs/tag-sync", None, {"accounts": "all"}, {"accounts"}),
    ("POST", "/drs/recovery-instance-sync", None, {"sourceServerIDs": ["x"]}, {"sourceServerIDs.0"}),
    ("POST", "/inventory/refresh", None, {"regions": ["moon-1"]}, {"regions.0"}),
    ("POST", "/inventory/refresh", None, {"accountId": 1}, {"accountId"}),
    ("POST", "/recovery-instances/terminate", None, {}, {"body"}),
    ("POST", "/recovery-instances/terminate", None, None, {"body"}),
    ("POST", "/recovery-instances/terminate", None, {"recoveryInstanceIDs": ["r-1"]}, {"recoveryInstanceIDs.0"}),
    ("POST", "/recovery-instances/terminate", None, {"sourceServerIDs": [ID], "sourceExecutionId": "x"}, {"body"}),
    (
        "POST",
        "/recovery-instances/terminate",
        None,
        {"sourceServerIDs": [ID], "pairs": [{"accountId": TARGET, "region": "us-east-1"}]},
        {"body"},
    ),
    (
        "POST",
        "/recovery-instances/terminate",
        None,
        {"recoveryInstanceIDs": ["i-0123456789abcdef0"], "pairs": [{"accountId": TARGET, "region": "sa-east-1"}]},
        {"pairs"},
    ),
    ("POST", "/accounts/targets", None, {"accountId": "555555555555", "kind": "staging"}, {"kind"}),
    ("POST", "/accounts/targets", None, {"accountId": "000000000000"}, {"accountId"}),
    ("POST", f"/accounts/targets/{TARGET}/staging-accounts", None, {"accountId": "000000000000"}, {"accountId"}),
    ("POST", "/syncs/inventory", None, "null", {"body"}),
    ("POST", "/syncs/tags", None, " null ", {"body"}),
    ("PATCH", f"/accounts/targets/{TARGET}", None, {}, {"body"}),
    ("PATCH", f"/accounts/targets/{TARGET}", None, {"enabled": None}, {"body"}),
    ("PATCH", f"/accounts/targets/{TARGET}", None, {"roleArn": "arn:aws:iam::999999999999:role/X"}, {"roleArn"}),
    ("DELETE", "/accounts/targets/12", None, None, {"accountId"}),
    ("POST", f"/accounts/targets/{TARGET}/staging-accounts", None, {"accountId": TARGET}, {"accountId"}),
    ("POST", f"/accounts/targets/{TARGET}/staging-accounts/sync", None, {"dryRun": 1}, {"dryRun"}),
    (
        "POST",
        f"/accounts/targets/{TARGET}/staging-accounts/sync",
        None,
        {"targetAccounts": [TARGET]},
        {"targetAccounts"},
    ),
    ("DELETE", f"/accounts/targets/{TARGET}/staging-accounts/3333", None, None, {"stagingAccountId"}),
    ("PATCH", f"/accounts/targets/{TARGET}/staging-accounts/{STAGING}", None, {"externalId": "a"}, {"externalId"}),
]


@pytest.mark.parametrize(("method", "path", "query", "body", "expected"), BAD_REQUESTS)
def test_a_bad_request_is_400_naming_the_field_and_touches_nothing(sb, method, path, query, body, expected):
    tables, writes, executions = table_snapshot(sb), drs_writes(sb), execution_count(sb)
    with recorded_calls() as calls:
        status, payload = sb.api(method, path, query, body)
    assert status == 400, (status, payload)
    assert payload["error"] == "ValidationError"
    assert {e["field"] for e in payload["errors"]} == expected, payload
    assert all(e["reason"] and e["in"] in ("path", "query", "body") for e in payload["errors"])
    assert calls == []  # nothing reached a table, Step Functions or DRS
    assert (table_snapshot(sb), drs_writes(sb), execution_count(sb)) == (tables, writes, executions)


def test_reasons_say_what_is_wrong(sb):
    payload = expect(sb, "GET", "/inventory", 400, query={"limit": "0", "accountId": "1"})
    reasons = {e["field"]: e["reason"] for e in payload["errors"]}
    assert reasons["limit"] == "Input should be greater than or equal to 1"
    assert reasons["accountId"] == "'1' is not a 12-digit AWS account id"  # in words, not the raw pattern
    payload = expect(sb, "POST", "/recovery-instances/terminate", 400, body={})
    assert "exactly one of sourceExecutionId, recoveryInstanceIDs or sourceServerIDs" in payload["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("GET", "/inventory/a/b/c"), ("POST", "/accounts"), ("DELETE", "/syncs/inventory/x/y")],
)
def test_an_unknown_route_is_a_json_404(sb, method, path):
    with recorded_calls() as calls:
        payload = expect(sb, method, path, 404)
    assert payload == {"error": "NotFound", "message": f"no route {method} {path}"}
    assert calls == []


def test_what_api_gateway_answers_itself(sb):
    # a method the resource does not have, and an unsigned request: API Gateway's 403, no function runs
    assert sb.api("DELETE", "/regions") == (403, {"message": "Missing Authentication Token"})
    assert sb.api("GET", "/regions", signed=False) == (403, {"message": "Missing Authentication Token"})


def test_the_event_is_what_api_gateway_sends(sb):
    from sandbox.api import ApiGateway

    gateway = ApiGateway(sb)
    status, body = gateway.request("GET", "/syncs/tags/executions", {"limit": 5, "status": ["RUNNING"]})
    assert status == 200 and body["executions"] == []
    last = gateway.last
    assert last is not None and last.route is not None and last.event is not None
    event = last.event
    assert event["resource"] == "/syncs/{sync}/executions" and event["pathParameters"] == {"sync": "tags"}
    assert event["multiValueQueryStringParameters"] == {"limit": ["5"], "status": ["RUNNING"]}
    assert event["requestContext"]["stage"] == "v1" and event["requestContext"]["path"] == "/v1/syncs/tags/executions"
    assert event["requestContext"]["identity"]["userArn"] == f"arn:aws:iam::{sb.account}:user/sandbox-operator"
    assert last.route.function == "QueryApiFunction"
    assert last.headers["Content-Type"] == "application/json"

    status, body = gateway.request("POST", "/syncs/tags", body={"regions": ["us-east-1"]})
    last = gateway.last
    assert last is not None and last.route is not None
    assert status == 202 and last.route.function == "ManageApiFunction"
    assert last.headers["Location"] == body["links"]["execution"]
    sb.wait(body["executionArn"])


def test_the_iam_check_of_the_route_tests_would_catch_a_write_by_the_query_function(sb):
    """The route tests check every AWS call of both functions against their deployed roles: make sure that
    check denies what the template does not grant."""
    from api_support import Call, denied_calls

    query = sb.function_name("QueryApiFunction")
    inventory = sb.table_name("inventory")
    calls = [
        Call(query, "dynamodb", "PutItem", {"TableName": inventory, "Item": {"accountRegion": "x"}}),
        Call(query, "stepfunctions", "StartExecution", {"stateMachineArn": sb.state_machine_arn("inventory")}),
        Call(query, "sts", "AssumeRole", {"RoleArn": f"arn:aws:iam::{TARGET}:role/DrsFleetSyncRole"}),
        Call(query, "dynamodb", "Query", {"TableName": inventory, "IndexName": "ByRegion"}),
        Call(query, "dynamodb", "GetItem", {"TableName": sb.table_name("accounts"), "Key": {"accountId": TARGET}}),
    ]
    denied = denied_calls(sb, calls, "QueryApiFunction")
    assert len(denied) == 4 and not any("dynamodb:Query" in d for d in denied), denied

    manage = sb.function_name("ManageApiFunction")
    direct = sb.function_name("DataManagementFunction")
    state = sb.table_name("sync-state")

    def get(function, pk):
        return Call(function, "dynamodb", "GetItem", {"TableName": state, "Key": {"pk": pk, "sk": "x"}})

    assert denied_calls(sb, [get(manage, "cache#regions")], "ManageApiFunction") == []
    assert denied_calls(sb, [get(manage, "lock#tags"), get(manage, "status#recovery-instances")], "ManageApiFunction")
    assert denied_calls(sb, [get(direct, "status#recovery-instances")], "DataManagementFunction") == []
    assert denied_calls(sb, [get(direct, "cache#regions")], "DataManagementFunction")
