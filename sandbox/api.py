"""API Gateway (REST, proxy integration) in front of the sandbox's functions: `Sandbox.api(...)`.

The routes come from the template itself: every `AWS::Serverless::Function` event of type `Api` (path,
method, the `AWS::Serverless::Api` it belongs to and that API's authorizer). A request is matched the way
API Gateway matches resources (a literal segment beats a `{param}`, which beats a greedy `{proxy+}`), turned
into the REST proxy event API Gateway would send (resource, path, pathParameters, query parameters single
and multi-valued, headers, requestContext with the stage, the request id and the caller's IAM identity), and
sent to the routed function through moto's Lambda API, the same in-process path the state machines use
(`sandbox.local_lambda`). The function's proxy response comes back as `(status, body)`.

What API Gateway itself answers is emulated too: a path no resource matches, or a method the matched
resource lacks, gets 403 `{"message": "Missing Authentication Token"}`; an unsigned request to an AWS_IAM
route gets the same (`signed=False`); a function error or a malformed proxy response gets 502
`{"message": "Internal server error"}`; a function that has not answered after 29 s on the sandbox clock
(API Gateway's integration timeout) gets 504 `{"message": "Endpoint request timed out"}` while it runs on
to its own Timeout, as in AWS.

Who calls: `Sandbox.api` (in process) signs as the sandbox's own keys, the stack account's `sandbox-operator`
IAM user; `sandbox serve` answers the stage URL over HTTP (`sandbox.rest_endpoint`) and verifies each
request's SigV4 signature first (`sandbox.sigv4`). Either way requestContext.identity is the signer's IAM
identity as moto holds it, never anything the request itself claims.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

from .local_lambda import CALLER_TIMED_OUT, responding_within
from .runtime import own_keys_as_operator
from .sigv4 import MISSING_TOKEN as UNSIGNED
from .sigv4 import Caller, Refusal, caller_of, request_identity

INTERNAL_ERROR = {"message": "Internal server error"}
ENDPOINT_TIMED_OUT = {"message": "Endpoint request timed out"}
INTEGRATION_TIMEOUT_SECONDS = 29  # API Gateway's REST integration limit, on the sandbox clock
IMPLICIT_API = "ServerlessRestApi"
SANDBOX_ACCESS_KEY = "testing"  # the sandbox's own keys (sandbox.runtime): the operator's, at the API
Authenticate = Any  # () -> Caller | Refusal


class ApiRouteError(LookupError):
    """The template declares no API (or not the one asked for)."""


@dataclass(frozen=True)
class Route:
    """One method of one resource: what an `Api` event declares."""

    method: str  # GET, POST, ... or ANY
    path: str  # /syncs/{sync}
    function: str  # logical id of the function
    api: str  # logical id of the AWS::Serverless::Api (ServerlessRestApi when implicit)
    auth: str  # AWS_IAM, NONE, or an authorizer name

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]

    def match(self, segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
        """(specificity, path parameters) when the resource matches these raw segments."""
        mine = self.segments
        params: dict[str, str] = {}
        rank: list[int] = []
        for i, pattern in enumerate(mine):
            if pattern.startswith("{") and pattern.endswith("+}"):
                rest = segments[i:]
                if not rest:
                    return None
                params[pattern[1:-2]] = urllib.parse.unquote("/".join(rest))
                rank.append(0)
                return tuple(rank), params
            if i >= len(segments):
                return None
            if pattern.startswith("{") and pattern.endswith("}"):
                params[pattern[1:-1]] = urllib.parse.unquote(segments[i])
                rank.append(1)
            elif pattern == segments[i]:
                rank.append(2)
            else:
                return None
        if len(mine) != len(segments):
            return None
        return tuple(rank), params


@dataclass
class Exchange:
    """The last request and response, for tests that want to look at the event itself."""

    route: Route | None
    event: dict[str, Any] | None
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # the body as sent


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def routes_of(sam: dict[str, Any]) -> list[Route]:
    """Every Api event of the SAM template, with its API's default authorizer."""
    resources = sam.get("Resources") or {}
    global_auth = (((sam.get("Globals") or {}).get("Api") or {}).get("Auth") or {}).get("DefaultAuthorizer")
    out = []
    for lid, res in resources.items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((res.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "Api":
                continue
            props = event.get("Properties") or {}
            api = _ref(props.get("RestApiId")) or IMPLICIT_API
            api_props = (resources.get(api) or {}).get("Properties") or {}
            default = (api_props.get("Auth") or {}).get("DefaultAuthorizer") or global_auth or "NONE"
            auth = (props.get("Auth") or {}).get("Authorizer") or default
            out.append(Route(str(props["Method"]).upper(), str(props["Path"]), lid, api, str(auth)))
    return out


def _stage(sam: dict[str, Any], api: str, parameters: dict[str, Any]) -> str:
    stage = (((sam.get("Resources") or {}).get(api) or {}).get("Properties") or {}).get("StageName", "Prod")
    ref = _ref(stage)
    return str(parameters.get(ref, ref)) if ref else str(stage)


def _query(query: dict[str, Any] | None, path_query: str) -> dict[str, list[str]]:
    """Query values as API Gateway passes them: strings, several for a repeated name."""
    out: dict[str, list[str]] = {}
    for name, value in urllib.parse.parse_qsl(path_query, keep_blank_values=True):
        out.setdefault(name, []).append(value)

    def text(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (dict, list)):
            return json.dumps(v)
        return str(v)

    for name, value in (query or {}).items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        out.setdefault(str(name), []).extend(text(v) for v in values if v is not None)
    return {k: v for k, v in out.items() if v}


def _body_text(body: Any) -> tuple[str | None, bool]:
    """The event's body and isBase64Encoded: bytes as base64, text as is, anything else as JSON."""
    if body is None:
        return None, False
    if isinstance(body, (bytes, bytearray)):
        return base64.b64encode(bytes(body)).decode(), True
    return (body if isinstance(body, str) else json.dumps(body)), False


def _headers(given: dict[str, str], host: str, has_body: bool) -> dict[str, str]:
    out = {
        "Accept": "application/json",
        "Host": host,
        "User-Agent": "drs-fleet-sync-sandbox",
        "X-Forwarded-Proto": "https",
        **given,
    }
    if has_body:
        out.setdefault("Content-Type", "application/json")
    return out


class ApiGateway:
    """The sandbox's REST API(s), as declared by the template."""

    def __init__(self, sandbox: Any) -> None:
        self.sb = sandbox
        deployment = sandbox._require()
        self.sam = deployment.translated.sam
        self.parameters = deployment.translated.parameters
        self.routes = routes_of(self.sam)
        self.last: Exchange | None = None
        own_keys_as_operator(sandbox.account, sandbox.region, SANDBOX_ACCESS_KEY)

    def api_ids(self) -> list[str]:
        return sorted({r.api for r in self.routes})

    def _api_id(self, api: str) -> str:
        """The REST API's id in moto's API Gateway (sandbox/stack/resources/apigateway.py), or a stable stand-in
        for a template whose API the deployer skipped."""
        res = self.sb._require().resources.get(api)
        if res is not None and not res.skipped:
            return str(res.physical_id)
        return hashlib.sha256(f"{self.sb.stack_name}/{api}".encode()).hexdigest()[:10]

    def api_of(self, api_id: str, stage: str) -> str | None:
        """The logical id of the API with this id whose stage this is (the template's StageName, or SAM's
        "Stage" that its deployment also creates), else None."""
        for api in self.api_ids():
            if self._api_id(api) == api_id and stage in (self.stage(api), "Stage"):
                return api
        return None

    def stage(self, api: str) -> str:
        return _stage(self.sam, api, self.parameters)

    def resolve(self, method: str, path: str, api: str | None = None) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path parameters, resource found): the most specific resource matching the path; the route
        is its method (or ANY), None when the resource lacks the method or nothing matches."""
        apis = self.api_ids()
        if not apis:
            raise ApiRouteError("the template declares no Api events")
        if api is None:
            if len(apis) > 1:
                raise ApiRouteError(f"the template has several APIs ({', '.join(apis)}): pass api=")
            api = apis[0]
        elif api not in apis:
            raise ApiRouteError(f"no API {api!r}; the template's: {', '.join(apis)}")
        segments = [s for s in path.split("/") if s]
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for route in self.routes:
            if route.api != api:
                continue
            found = route.match(segments)
            if found is not None and (best is None or found[0] > best[0]):
                best = (found[0], route.path, found[1])
        if best is None:
            return None, {}, False
        _, resource, params = best
        methods = {r.method: r for r in self.routes if r.api == api and r.path == resource}
        chosen = methods.get(method.upper()) or methods.get("ANY")
        return chosen, params, True

    def event(
        self,
        route: Route,
        method: str,
        path: str,
        params: dict[str, str],
        query: dict[str, list[str]],
        body: Any,
        headers: dict[str, str],
        caller: Caller | None,
    ) -> dict[str, Any]:
        account, region = self.sb.account, self.sb.region
        api_id = self._api_id(route.api)
        stage = self.stage(route.api)
        now = dt.datetime.now(dt.UTC)
        text, is_b64 = _body_text(body)
        all_headers = _headers(headers, f"{api_id}.execute-api.{region}.amazonaws.com", text is not None)
        if caller is not None and not any(k.lower() == "authorization" for k in all_headers):  # signed in process
            all_headers["Authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={caller.access_key}/{now:%Y%m%d}/{region}/execute-api/aws4_request, "
                "SignedHeaders=host;x-amz-date, Signature=sandbox"
            )
            all_headers["X-Amz-Date"] = f"{now:%Y%m%dT%H%M%SZ}"
        identity = request_identity(caller, all_headers["User-Agent"], "127.0.0.1")
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method.upper(),
            "headers": all_headers,
            "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": account,
                "apiId": api_id,
                "domainName": all_headers["Host"],
                "domainPrefix": api_id,
                "extendedRequestId": uuid.uuid4().hex[:16],
                "httpMethod": method.upper(),
                "identity": identity,
                "path": f"/{stage}{path}",
                "protocol": "HTTP/1.1",
                "requestId": str(uuid.uuid4()),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "resourceId": hashlib.sha256(route.path.encode()).hexdigest()[:6],
                "resourcePath": route.path,
                "stage": stage,
            },
            "body": text,
            "isBase64Encoded": is_b64,
        }

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        signed: bool = True,
        api: str | None = None,
    ) -> tuple[int, Any]:
        """One request from inside the sandbox: signed (or not) with the sandbox's own keys."""

        def sandbox_keys() -> Caller | Refusal:
            return (caller_of(SANDBOX_ACCESS_KEY) if signed else None) or UNSIGNED

        exchange = self.handle(method, path, query, body, headers or {}, sandbox_keys, api)
        return exchange.status, exchange.body

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None,
        body: Any,
        headers: dict[str, str],
        authenticate: Authenticate,
        api: str | None = None,
    ) -> Exchange:
        """What API Gateway does with a request: match the resource, authenticate an AWS_IAM method's caller
        (`authenticate()`: the signer, or the refusal), build the proxy event, invoke, map the response."""
        raw_path, _, path_query = path.partition("?")
        raw_path = "/" + raw_path.lstrip("/")
        route, params, _found = self.resolve(method, raw_path, api)
        caller = None
        if route is not None and route.auth == "AWS_IAM":
            who = authenticate()
            if isinstance(who, Refusal):
                return self._refused(route, who)
            caller = who
        if route is None:
            return self._refused(route, UNSIGNED)
        event = self.event(route, method, raw_path, params, _query(query, path_query), body, headers, caller)
        status, text, response_headers = self._invoke(route, event)
        self.last = Exchange(route, event, status, _parsed(text, response_headers), response_headers, text)
        return self.last

    def _refused(self, route: Route | None, refusal: Refusal) -> Exchange:
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": refusal.error_type}
        self.last = Exchange(route, None, refusal.status, refusal.body, headers, json.dumps(refusal.body))
        return self.last

    def _invoke(self, route: Route, event: dict[str, Any]) -> tuple[int, str | None, dict[str, str]]:
        """(status, body text, headers) of the function's proxy response, or of API Gateway's own error."""
        lam = self.sb.client("lambda")
        with responding_within(INTEGRATION_TIMEOUT_SECONDS):
            out = lam.invoke(FunctionName=self.sb.function_name(route.function), Payload=json.dumps(event).encode())
        payload = out["Payload"].read()
        gateway_json = {"Content-Type": "application/json"}
        if out.get("FunctionError"):
            if _error_type(payload) == CALLER_TIMED_OUT:
                return 504, json.dumps(ENDPOINT_TIMED_OUT), gateway_json
            return 502, json.dumps(INTERNAL_ERROR), gateway_json
        try:
            response = json.loads(payload)
            status = response["statusCode"]
            if not isinstance(status, int) or isinstance(status, bool):
                raise TypeError("statusCode")
        except (ValueError, TypeError, KeyError):  # API Gateway: "Malformed Lambda proxy response"
            return 502, json.dumps(INTERNAL_ERROR), gateway_json
        headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[str(name)] = ",".join(str(v) for v in values)
        text = response.get("body")
        if text is not None and response.get("isBase64Encoded"):
            text = base64.b64decode(text).decode("utf-8", "replace")
        return status, None if text is None else str(text), headers


def _parsed(text: str | None, headers: dict[str, str]) -> Any:
    """The body as JSON when it is JSON (by its content type, or with none), else the text."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if text and (re.search(r"json", content_type) or not content_type):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _error_type(payload: bytes) -> Any:
    try:
        return json.loads(payload).get("errorType")
    except (ValueError, AttributeError):
        return None
