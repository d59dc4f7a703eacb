"""The REST API over HTTP as `sandbox serve` serves it: moto's API Gateway holds the template's API, its stage
URL routes to the same handlers `Sandbox.api` invokes, and SigV4 is checked as API Gateway checks AWS_IAM."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import boto3
import botocore.auth
import pytest
from api_support import open_sandbox
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox.rest_endpoint import invoke_url
from sandbox.sigv4 import MISMATCH

SANDBOX_KEYS = Credentials("testing", "testing")


@pytest.fixture(scope="module")
def served():
    with open_sandbox() as box:
        base = box.serve()
        yield box, base, invoke_url(box, base)


def send(url, method="GET", body=None, *, creds=SANDBOX_KEYS, region="us-east-1", service="execute-api", **kw):
    """One HTTP request, SigV4-signed by botocore as awscurl signs it (unless creds is None)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = AWSRequest(method, url, data=body, headers=headers)
    if creds is not None:
        SigV4Auth(creds, service, region).add_auth(request)
    headers = {**dict(request.headers), **kw.get("headers", {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method=method, headers=headers)) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null"), dict(err.headers)


def test_get_rest_apis_against_serve_returns_the_templates_api(served):
    sb, base, url = served
    apigw = boto3.client(
        "apigateway", endpoint_url=base, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    (api,) = apigw.get_rest_apis()["items"]
    assert api["name"] == f"{sb.stack_name}-api" and url == f"{base}/restapis/{api['id']}/v1/_user_request_"
    assert "v1" in {s["stageName"] for s in apigw.get_stages(restApiId=api["id"])["item"]}
    paths = {r["path"] for r in apigw.get_resources(restApiId=api["id"], limit=500)["items"]}
    assert {"/regions", "/inventory", "/syncs/{sync}", "/{proxy+}"} <= paths


def test_a_signed_request_reaches_the_handler_as_its_signer(served):
    sb, _, url = served
    assert send(f"{url}/regions")[:2] == sb.api("GET", "/regions")
    # a body that claims another caller changes nothing: the identity is the signature's
    forged = {"accountId": "999999999999", "requestContext": {"identity": {"userArn": "arn:aws:iam::1:user/x"}}}
    status, _, _ = send(f"{url}/accounts/targets", "POST", json.dumps(forged).encode())
    assert status == 400
    identity = sb.__dict__["_api_gateway"].last.event["requestContext"]["identity"]
    assert identity["userArn"] == f"arn:aws:iam::{sb.account}:user/sandbox-operator"
    assert identity["accessKey"] == "testing" and identity["accountId"] == sb.account and identity["caller"]


def test_temporary_credentials_are_the_role_session_and_need_their_token(served):
    sb, _, url = served
    iam = sb.client("iam")
    root = f"arn:aws:iam::{sb.account}:root"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": root}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="api-reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    creds = sb.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="alice")["Credentials"]
    session = Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    status, body, _ = send(f"{url}/inventory?regions=us-east-1&limit=1", creds=session)
    assert status == 200 and body["regions"] == ["us-east-1"]
    identity = sb.__dict__["_api_gateway"].last.event["requestContext"]["identity"]
    assert identity["userArn"] == f"arn:aws:sts::{sb.account}:assumed-role/api-reader/alice"
    assert identity["caller"].endswith(":alice") and identity["accessKey"] == creds["AccessKeyId"]
    no_token = Credentials(creds["AccessKeyId"], creds["SecretAccessKey"])
    assert send(f"{url}/regions", creds=no_token)[:2] == (403, {"message": sigv4_invalid_token()})


def sigv4_invalid_token() -> str:
    return "The security token included in the request is invalid."


def _ten_minutes_ago(monkeypatch):
    then = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: then)


@pytest.mark.parametrize(
    ("case", "error_type", "message"),
    [
        ("unsigned", "MissingAuthenticationTokenException", "Missing Authentication Token"),
        ("wrong secret", "InvalidSignatureException", MISMATCH),
        ("unknown key", "UnrecognizedClientException", "The security token included in the request is invalid."),
        ("expired", "InvalidSignatureException", "Signature expired: "),
        ("other region", "InvalidSignatureException", "Credential should be scoped to a valid region"),
        ("other service", "InvalidSignatureException", "Credential should be scoped to correct service: 'execute-api'"),
        ("not sigv4", "IncompleteSignatureException", "Authorization header requires 'Credential' parameter."),
    ],
)
def test_a_request_without_a_valid_signature_is_refused_before_any_function_runs(
    served, monkeypatch, case, error_type, message
):
    sb, _, url = served
    kw: dict = {
        "unsigned": {"creds": None},
        "wrong secret": {"creds": Credentials("testing", "not-the-secret")},
        "unknown key": {"creds": Credentials("AKIAUNKNOWNKEY000000", "x")},
        "expired": {},
        "other region": {"region": "eu-west-1"},
        "other service": {"service": "lambda"},
        "not sigv4": {"creds": None, "headers": {"Authorization": "Bearer abc"}},
    }[case]
    if case == "expired":
        _ten_minutes_ago(monkeypatch)
    assert sb.lambdas is not None
    before = len(sb.lambdas.invocations)
    status, body, headers = send(f"{url}/syncs/inventory", "POST", b'{"regions": ["us-east-1"]}', **kw)
    assert status == 403 and set(body) == {"message"} and body["message"].startswith(message), body
    assert headers["x-amzn-ErrorType"] == error_type
    assert len(sb.lambdas.invocations) == before


def test_an_unknown_stage_or_resource_is_refused_as_api_gateway_does(served):
    _, base, url = served
    api_id = url.split("/restapis/")[1].split("/")[0]
    assert send(f"{base}/restapis/{api_id}/prod/_user_request_/regions")[:2] == (403, {"message": "Forbidden"})
    assert send(f"{base}/restapis/nope/v1/_user_request_/regions")[:2] == (403, {"message": "Forbidden"})
    # an unknown path still reaches the query function's {proxy+} route: a JSON 404 from the function
    status, body, _ = send(f"{url}/no/such/route")
    assert status == 404 and body["error"]


def test_past_29_seconds_the_served_api_answers_504(served):
    sb, _, url = served
    assert sb.run_sync("recovery-instances")["status"] == "SUCCEEDED"  # the cache rows a terminate acts on
    row = sb.items("recovery-instances")[0]
    # DRS answers after 90 s on the sandbox clock: the terminate request outlasts API Gateway's limit
    sb.set_faults([{"accountId": row["accountId"], "operation": "TerminateRecoveryInstances", "latencyMs": 90_000}])
    started = sb.clock.monotonic()
    try:
        body = json.dumps({"sourceServerIDs": [row["sourceServerID"]]}).encode()
        status, body, _ = send(f"{url}/recovery-instances/terminate", "POST", body)
        assert (status, body) == (504, {"message": "Endpoint request timed out"})
        assert 29 <= sb.clock.monotonic() - started < 90
        assert sb.lambdas is not None
        lambdas = sb.lambdas
        assert sb.clock.wait_until(lambda: not lambdas._running, None, real_limit=60)
    finally:
        sb.set_faults([])
