"""Requests that can only fail are refused before anything starts, with an answer that says why: bodies that
are not JSON (415), inputs the sync's plan would reject (400, no execution), direct invocations that are not
operations; and an inventory page reads only what it needs."""

from __future__ import annotations

import json

import pytest
from api_support import NEW_TARGET, OTHER_TARGET, STAGING, TARGET, execution_count, expect, open_sandbox, recorded_calls

ID = "s-0123456789abcdef0"


@pytest.fixture(scope="module")
def sb():
    with open_sandbox() as box:
        yield box


# ------------------------------------------------------------------ content types


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",  # what a browser's fetch sends for a string body
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ],
)
def test_a_body_that_is_not_json_is_415_naming_its_content_type(sb, content_type):
    before = execution_count(sb)
    with recorded_calls() as calls:
        status, payload = sb.api("POST", "/syncs/inventory", body="{}", headers={"Content-Type": content_type})
    assert status == 415, payload
    assert payload["error"] == "UnsupportedMediaType" and content_type in payload["message"]
    assert "application/json" in payload["message"]
    assert calls == [] and execution_count(sb) == before


@pytest.mark.parametrize(
    "content_type", ["APPLICATION/JSON", "application/json; charset=UTF-8", "Application/Json;charset=utf-8"]
)
def test_json_media_types_match_case_insensitively_with_parameters(sb, content_type):
    body = json.dumps({"regions": ["us-east-1"]})
    status, payload = sb.api("POST", "/syncs/tags", body=body, headers={"Content-Type": content_type})
    assert status == 202, payload
    assert payload["input"] == {"regions": ["us-east-1"]}
    sb.wait(payload["executionArn"])


def test_a_form_encoded_body_is_415_not_a_field_error(sb):
    status, payload = sb.api(
        "POST",
        "/accounts/targets",
        body="accountId=555555555555",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 415 and "errors" not in payload, payload


# ------------------------------------------------------------------ inputs the plan would reject


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        ("/syncs/inventory", {"accounts": ["999999999999"]}, "accounts", "999999999999"),
        ("/syncs/tags", {"accounts": [TARGET, NEW_TARGET]}, "accounts", NEW_TARGET),
        ("/syncs/staging", {"targetAccounts": [NEW_TARGET]}, "targetAccounts", NEW_TARGET),
        ("/syncs/staging", {"targetAccounts": [STAGING]}, "targetAccounts", STAGING),  # a staging account
        (
            "/syncs/recovery-instances",
            {"accountId": NEW_TARGET, "region": "eu-west-1", "sourceServerIDs": [ID], "executionId": "wave-1"},
            "accountId",
            NEW_TARGET,
        ),
        ("/drs/tag-sync", {"accounts": ["999999999999"]}, "accounts", "999999999999"),
    ],
)
def test_an_input_the_plan_would_reject_starts_nothing(sb, path, body, field, words):
    before = execution_count(sb)
    payload = expect(sb, "POST", path, 400, body=body)
    assert payload["error"] == "ValidationError"
    assert [e["field"] for e in payload["errors"]] == [field], payload
    assert words in payload["errors"][0]["reason"]
    assert execution_count(sb) == before


def test_a_registered_account_still_starts(sb):
    payload = expect(sb, "POST", "/syncs/inventory", 202, body={"accounts": [TARGET, OTHER_TARGET]})
    assert sb.wait(payload["executionArn"])["status"] == "SUCCEEDED"


# ------------------------------------------------------------------ reasons in words


def test_region_errors_name_the_region_and_what_is_valid(sb):
    payload = expect(sb, "POST", "/syncs/inventory", 400, body={"regions": ["mars-1"]})
    reason = payload["errors"][0]["reason"]
    assert "mars-1" in reason and "us-east-1" in reason and "^" not in reason, reason
    payload = expect(sb, "GET", "/inventory", 400, query={"regions": "sa-east-1"})
    reason = payload["errors"][0]["reason"]
    assert "sa-east-1" in reason and "valid: eu-west-1, us-east-1" in reason, reason
    payload = expect(sb, "GET", "/regions", 400, query={"region": "Mars"})
    assert "'Mars' is not an AWS region name" in payload["errors"][0]["reason"]


def test_an_unknown_query_parameter_names_what_the_route_takes(sb):
    payload = expect(sb, "GET", "/inventory", 400, query={"region": "us-east-1"})
    (error,) = payload["errors"]
    assert error["field"] == "region" and error["in"] == "query"
    assert "GET /inventory" in error["reason"] and "regions" in error["reason"]


# ------------------------------------------------------------------ direct invocation


@pytest.mark.parametrize("payload", [{}, [], "inventory", 7, {"no": "operation"}, {"operation": ""}])
def test_a_direct_invocation_that_is_not_an_operation_is_a_named_error(sb, payload):
    out = sb.client("lambda").invoke(
        FunctionName=sb.function_name("DataManagementFunction"), Payload=json.dumps(payload).encode()
    )
    answer = json.loads(out["Payload"].read())
    assert out.get("FunctionError") == "Unhandled"
    assert answer["errorType"] == "InvalidOperation", answer
    assert "sync_source_server_inventory" in answer["errorMessage"]
    assert "pydantic" not in answer["errorMessage"] and "http" not in answer["errorMessage"]


# ------------------------------------------------------------------ what a page reads


def test_a_page_asks_dynamodb_for_the_rows_it_needs(sb):
    sb.run_sync("inventory")
    with recorded_calls() as calls:
        page = expect(sb, "GET", "/inventory", 200, query={"limit": "1"})
    assert page["count"] == 1 and page["nextToken"]
    queries = [c for c in calls if c.operation == "Query" and c.params["TableName"] == sb.table_name("inventory")]
    assert [q.params["Limit"] for q in queries] == [1]


def test_a_filter_that_matches_little_reads_a_bounded_number_of_queries(sb, monkeypatch):
    from fleet_sync.syncs.inventory import pages

    sb.run_sync("inventory")
    monkeypatch.setattr(pages, "READ_AHEAD", 1)  # one row per Query: the 10 rows would take 10 or more Queries
    seen, token, rounds = 0, None, 0
    while True:
        query = {"hostname": "no-such-host", "limit": "1", **({"nextToken": token} if token else {})}
        page = expect(sb, "GET", "/inventory", 200, query=query)
        assert page["queries"] <= pages.MAX_QUERIES_PER_PAGE and page["count"] == 0
        seen += page["queries"]
        rounds += 1
        token = page["nextToken"]
        if token is None:
            break
    assert rounds >= 2 and seen >= 7  # every row was still read, over several pages
