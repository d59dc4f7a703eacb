"""The template's REST API over HTTP on `sandbox serve`'s port: `<url>/restapis/<id>/<stage>/_user_request_/<path>`.

The stage URL has LocalStack's path form for an API Gateway served on one local port (a host name such as
`<id>.execute-api...` would need DNS). A request to it is what a request to the API's invoke URL is in AWS: the SigV4
signature of an AWS_IAM method is verified (`sandbox.sigv4`: service `execute-api`, the stack's region),
then `sandbox.api.ApiGateway` matches the resource, builds the proxy event with the signer's IAM identity,
invokes the routed function within API Gateway's 29 s and maps its response, the very path `Sandbox.api`
takes in process. An API id or stage the stack does not have gets 403 `{"message": "Forbidden"}`.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from .sigv4 import Refusal, SignedRequest, verify

STAGE_PATH = re.compile(r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?$")
FORBIDDEN = Refusal(403, "ForbiddenException", "Forbidden")
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def invoke_url(sb: Any, base_url: str, api: str | None = None) -> str:
    """The stage URL of the template's API (the only one, or `api`) on a server at `base_url`."""
    gateway = gateway_of(sb)
    api = api or gateway.api_ids()[0]
    return f"{base_url}/restapis/{gateway._api_id(api)}/{gateway.stage(api)}/_user_request_"


def gateway_of(sb: Any) -> Any:
    from .api import ApiGateway

    gateway = sb.__dict__.get("_api_gateway")
    if gateway is None or gateway.sb is not sb or gateway.sam is not sb._require().translated.sam:
        gateway = sb.__dict__["_api_gateway"] = ApiGateway(sb)
    return gateway


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    out = {key[5:].replace("_", "-").title(): str(value) for key, value in environ.items() if key.startswith("HTTP_")}
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            out[name] = str(environ[key])
    return out


def _respond(start_response: StartResponse, status: int, headers: dict[str, str], text: str | None) -> list[bytes]:
    data = (text or "").encode()
    out = {**headers, "Content-Length": str(len(data))}
    start_response(f"{status} {HTTPStatus(status).phrase}", list(out.items()))
    return [data]


def rest_endpoint(sb: Any) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI app that answers stage URLs (STAGE_PATH) for the open Sandbox `sb`."""
    gateway = gateway_of(sb)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        match = STAGE_PATH.match(environ.get("PATH_INFO", ""))
        api = match and gateway.api_of(match["api"], match["stage"])
        if match is None or api is None:
            return _respond(start_response, 403, {"x-amzn-ErrorType": FORBIDDEN.error_type}, json.dumps(FORBIDDEN.body))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = _headers(environ)
        query = str(environ.get("QUERY_STRING", ""))
        signed = SignedRequest(environ["REQUEST_METHOD"], environ["PATH_INFO"], query, headers, body)
        path = urllib.parse.quote(match["path"] or "/", safe="/~")
        kept = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "connection")}
        exchange = gateway.handle(
            environ["REQUEST_METHOD"],
            f"{path}?{query}" if query else path,
            None,
            _body(body),
            kept,
            lambda: verify(signed, sb.region),
            api,
        )
        return _respond(start_response, exchange.status, exchange.headers, exchange.text)

    return app


def _body(data: bytes) -> Any:
    """The body as the proxy event carries it: text when it is UTF-8, else bytes (base64 in the event)."""
    if not data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data
