"""What both API functions share: the resolver they are built on, the error shape, the status each layer error
maps to, and list parameters.

Error body (every 4xx and 5xx the functions answer):
    {"error": "ValidationError", "message": "...", "errors": [{"field": "limit", "in": "query", "reason": "..."}]}
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from botocore.exceptions import ClientError

from ..core.ids import ACCOUNT_ID, REGION, SOURCE_SERVER_ID
from ..core.observability import logger, metrics
from .models import REGION_LIST, SOURCE_SERVER_LIST, ErrorResponse

THROTTLING = {"ThrottlingException", "Throttling", "TooManyRequestsException", "ProvisionedThroughputExceededException"}
NOT_FOUND_CODES = {"ExecutionDoesNotExist", "StateMachineDoesNotExist"}

# Layer errors -> HTTP status, by class name (the class or any base): the query function must not import the
# modules that define the write-side errors (the accounts admin), so the mapping does not import them either.
ERROR_STATUS: dict[str, int] = {
    "AccountConflict": 409,
    "AccountNotFound": 404,
    "AccountNotRegistered": 404,
    "ServerNotFound": 404,
    "InvalidSyncInput": 400,
    "SyncBusy": 409,
}


def status_of(exc: BaseException) -> int | None:
    for cls in type(exc).__mro__:
        if cls.__name__ in ERROR_STATUS:
            return ERROR_STATUS[cls.__name__]
    return None


ERROR_DESCRIPTIONS = {
    400: "a parameter or body field is not valid: `errors` names each field and the reason",
    404: "the thing the path names does not exist",
    409: "the change contradicts the accounts table; a scoped run (SyncBusy): another run of the sync holds its lock",
    415: "the body is not JSON: send Content-Type application/json",
}
# Methods whose body the routes read: any Content-Type but JSON is refused with 415 before routing.
BODY_METHODS = {"POST", "PUT", "PATCH"}
# What a pattern means, said in words: pydantic's reason for a mismatch is the raw regex.
PATTERN_WORDS = {
    ACCOUNT_ID: "a 12-digit AWS account id",
    REGION: "an AWS region name such as us-east-1",
    SOURCE_SERVER_ID: "a DRS source server id (s- and 17 letters or digits)",
    REGION_LIST: "a list of AWS region names such as us-east-1,eu-west-1",
    SOURCE_SERVER_LIST: "a list of DRS source server ids (s- and 17 letters or digits each)",
}


def responses(status: int, description: str, *errors: int) -> dict[int, Any]:
    """The documented responses of a route: its success status and the errors it may answer."""
    out: dict[int, Any] = {status: {"description": description}}
    for code in errors:
        out[code] = {"description": ERROR_DESCRIPTIONS[code], "content": {"application/json": {"model": ErrorResponse}}}
    return out


class ApiValidationError(Exception):
    """A request field the resolver's types let through but a check with the stack's settings rejects."""

    def __init__(
        self, field: str, reason: str, location: str = "query", *, errors: list[dict[str, str]] | None = None
    ) -> None:
        self.errors = errors or [{"field": field, "in": location, "reason": reason}]
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in self.errors))

    @classmethod
    def from_pydantic(cls, exc: Any, location: str = "body") -> ApiValidationError:
        """A model validated in a handler (its locations carry no `body` prefix)."""
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())) or location,
                "in": location,
                "reason": _pattern_reason(dict(e)) or _reason(e["msg"]),
            }
            for e in exc.errors()
        ]
        return cls("", "", errors=errors)


class ApiNotFound(Exception):
    """The route exists, the thing it names does not (an execution, a target account)."""


def plain_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=plain_json)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    """A JSON response; the resolver serializes the body (after checking it against the route's return type)."""
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def error_response(
    status: int, error: str, message: str, errors: list[dict[str, str]] | None = None, **extra: Any
) -> Response[Any]:
    body: dict[str, Any] = {"error": error, "message": message}
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    if status >= 500:
        metrics.add_metric(name="ApiServerErrors", unit="Count", value=1)
    return json_response(status, body)


def _reason(message: str) -> str:
    return re.sub(r"^(Value|Assertion) error, ", "", message)


def _pattern_reason(err: dict[str, Any]) -> str | None:
    """A pattern mismatch in words, naming the value (None when the pattern has no words here)."""
    if err.get("type") != "string_pattern_mismatch":
        return None
    words = PATTERN_WORDS.get(str((err.get("ctx") or {}).get("pattern", "")))
    return f"{err.get('input')!r} is not {words}" if words else None


def field_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic errors of a request as `{field, in, reason}`: `in` is path, query, body or header."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc and loc[0] in ("path", "query", "body", "header") else "body"
        rest = loc[1:] if loc and loc[0] == where else loc
        if err.get("type") == "json_invalid":
            out.append({"field": "body", "in": "body", "reason": "the body is not valid JSON"})
            continue
        reason = _pattern_reason(err) or _reason(str(err.get("msg", "")))
        out.append({"field": ".".join(rest) or where, "in": where, "reason": reason})
    return out


def make_resolver() -> APIGatewayRestResolver:
    """A REST resolver with pydantic validation whose every error is the JSON error shape above."""
    app = APIGatewayRestResolver(enable_validation=True, serializer=dumps)
    app.use(middlewares=[_reject_unknown_query])

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def _invalid(exc: RequestValidationError) -> Response[Any]:
        if any(tuple(e.get("loc", ()))[:1] == ("response",) for e in exc.errors()):  # our bug, not the caller's
            logger.error("response failed its own validation", extra={"errors": exc.errors()})
            return error_response(500, "InternalError", "internal error")
        errors = field_errors(exc.errors())
        logger.info("request rejected", extra={"errors": errors})
        return error_response(400, "ValidationError", "the request is not valid", errors)

    @app.exception_handler(ApiValidationError)  # type: ignore[untyped-decorator]
    def _invalid_value(exc: ApiValidationError) -> Response[Any]:
        logger.info("request rejected", extra={"errors": exc.errors})
        return error_response(400, "ValidationError", "the request is not valid", exc.errors)

    @app.exception_handler(ApiNotFound)  # type: ignore[untyped-decorator]
    def _missing(exc: ApiNotFound) -> Response[Any]:
        return error_response(404, "NotFound", str(exc))

    @app.not_found
    def _no_route(exc: NotFoundError) -> Response[Any]:
        event = app.current_event
        return error_response(404, "NotFound", f"no route {event.http_method} {event.path}")

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _unexpected(exc: Exception) -> Response[Any]:
        return unexpected_error(exc, app.lambda_context.aws_request_id if app.lambda_context else None)

    return app


def _reject_unknown_query(app: APIGatewayRestResolver, next_middleware: Any) -> Response[Any]:
    """A query parameter the route does not declare is a 400 naming it: a typo must not widen the answer."""
    event = app.current_event
    given = set(event.multi_value_query_string_parameters or {}) | set(event.query_string_parameters or {})
    route = app.context.get("_route")
    declared = {p.alias for p in route.dependant.query_params} if route is not None else set()
    unknown = sorted(given - declared)
    if unknown:
        takes = f"this route takes {', '.join(sorted(declared))}" if declared else "this route takes none"
        reason = f"not a query parameter of {event.http_method} {route.path if route else event.path}; {takes}"
        raise ApiValidationError("", "", errors=[{"field": n, "in": "query", "reason": reason} for n in unknown])
    return next_middleware(app)  # type: ignore[no-any-return]


def unexpected_error(exc: Exception, request_id: str | None) -> Response[Any]:
    """The answer to an exception no route handled: its layer status, 404 or 503 for AWS's, else 500."""
    if isinstance(exc, ServiceError):  # Powertools' own HTTP errors keep their status
        return error_response(exc.status_code, type(exc).__name__, str(exc.msg))
    status = status_of(exc)
    if status is not None:
        logger.info("request failed", extra={"error": type(exc).__name__, "status": status})
        return error_response(status, type(exc).__name__, str(exc))
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in NOT_FOUND_CODES:
            return error_response(404, "NotFound", exc.response["Error"].get("Message") or code)
        if code in THROTTLING:
            logger.warning("throttled by AWS", extra={"code": code})
            return error_response(503, "Throttled", "AWS throttled this request; retry later", requestId=request_id)
    logger.exception("unhandled error")
    return error_response(500, "InternalError", "internal error", requestId=request_id)


def split_list(
    values: list[str] | None, field: str, pattern: str, *, limit: int, location: str = "query"
) -> list[str] | None:
    """A list parameter given repeated (`?x=a&x=b`), comma-separated (`?x=a,b`) or both; duplicates dropped."""
    if values is None:
        return None
    items = list(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))
    if not items:
        raise ApiValidationError(field, "give at least one value", location)
    bad = [v for v in items if not re.fullmatch(pattern, v)]
    if bad:
        raise ApiValidationError(field, f"not valid: {', '.join(bad[:5])}", location)
    if len(items) > limit:
        raise ApiValidationError(field, f"at most {limit} values", location)
    return items


def known_regions(
    regions: list[str] | None, allowed: list[str], field: str = "regions", location: str = "query"
) -> list[str] | None:
    """The given regions, each one the stack considers (its DrsRegions, else the SDK's DRS regions)."""
    if regions is None:
        return None
    unknown = sorted(set(regions) - set(allowed))
    if unknown:
        reason = f"not a DRS region this stack considers: {', '.join(unknown[:5])}; valid: {', '.join(sorted(allowed))}"
        raise ApiValidationError(field, reason, location)
    return regions


def is_api_gateway_event(event: Any) -> bool:
    """An API Gateway REST proxy event (as opposed to a direct invocation `{"operation": ...}`)."""
    return isinstance(event, dict) and "httpMethod" in event and "requestContext" in event and "operation" not in event


class NotAnApiRequest(Exception):
    """An event that API Gateway did not send: the API functions answer API requests only."""


def require_api_gateway_event(event: Any) -> None:
    """Refuse (raise) anything but an API Gateway REST proxy event carrying the caller's identity."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    if (
        not is_api_gateway_event(event)
        or not isinstance(context, dict)
        or not isinstance(context.get("identity"), dict)
    ):
        raise NotAnApiRequest(
            "this function serves the stack's API only; direct operations go to DataManagementFunction"
        )


def _undecodable_body(event: dict[str, Any]) -> bool:
    """A base64 body that is not UTF-8 text (Powertools would fail decoding it, before any validation)."""
    if not event.get("isBase64Encoded") or event.get("body") is None:
        return False
    try:
        base64.b64decode(event["body"], validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return True
    return False


def _header(event: dict[str, Any], name: str) -> str | None:
    """A request header (names are case-insensitive), from headers or multiValueHeaders."""
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == name and values:
            return str(values[-1])
    return None


def media_type(content_type: str) -> str:
    """`text/plain; charset=UTF-8` -> `text/plain`: media types compare case-insensitively, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json_media_type(value: str) -> bool:
    return value == "application/json" or (value.startswith("application/") and value.endswith("+json"))


def _unsupported_media_type(event: dict[str, Any]) -> str | None:
    """The Content-Type of a body route that is not JSON, else None; a JSON one is normalized in the event
    (the resolver parses only a lowercase `application/json`)."""
    if str(event.get("httpMethod", "")).upper() not in BODY_METHODS:
        return None
    given = _header(event, "content-type")
    if given is None:
        return None
    if not is_json_media_type(media_type(given)):
        return given
    for key in ("headers", "multiValueHeaders"):
        block = event.get(key) or {}
        for name in [n for n in block if n.lower() == "content-type"]:
            block[name] = ["application/json"] if key == "multiValueHeaders" else "application/json"
    return None


def _validation_body(errors: list[dict[str, str]]) -> dict[str, Any]:
    return {"error": "ValidationError", "message": "the request is not valid", "errors": errors}


def _raw_error(status: int, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"Content-Type": content_types.APPLICATION_JSON}
    return {"statusCode": status, "headers": headers, "body": dumps(body), "isBase64Encoded": False}


def _refused_before_routing(event: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a body the resolver cannot take (not JSON, JSON null, not UTF-8), else None."""
    unsupported = _unsupported_media_type(event)
    if unsupported is not None:
        logger.info("request rejected", extra={"contentType": unsupported})
        message = f"Content-Type {unsupported} is not supported: send the body as application/json"
        return _raw_error(415, {"error": "UnsupportedMediaType", "message": message})
    if str(event.get("httpMethod", "")).upper() in BODY_METHODS and str(event.get("body") or "").strip() == "null":
        reason = "the body is JSON null: send an object, or no body at all"
        return _raw_error(400, _validation_body([{"field": "body", "in": "body", "reason": reason}]))
    if _undecodable_body(event):
        reason = "the body is not UTF-8 text"
        return _raw_error(400, _validation_body([{"field": "body", "in": "body", "reason": reason}]))
    return None


def resolve(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Route one API Gateway event; every request is counted (ApiRequests)."""
    request_id = (event.get("requestContext") or {}).get("requestId")
    if request_id:
        logger.set_correlation_id(request_id)
    metrics.add_metric(name="ApiRequests", unit="Count", value=1)
    refused = _refused_before_routing(event)
    if refused is not None:
        return refused
    return app.resolve(event, context)
