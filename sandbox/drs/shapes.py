"""Everything the simulator takes from botocore's ``drs`` service model.

* :func:`route` maps an HTTP method and raw path to an operation (``http.method`` + ``requestUri``).
* :func:`parse_input` turns body, query string and URI labels into the operation's input dict.
* :func:`validate` checks a value against a model shape (required and unknown members, types, enums,
  lengths and ranges, patterns). The simulator uses it on every input (botocore checks ``min`` but never
  ``max`` client-side, so ``maxResults=301`` reaches the server); tests use it on every output.
* :func:`error_status` / :func:`operation_errors` give the HTTP status of an error shape and the errors an
  operation declares.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple
from urllib.parse import unquote

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StringShape, StructureShape

SERVICE = "drs"
# Describe* operations have no maxResults maximum in the model and none is documented; the simulator
# caps them at this value and rejects larger values with ValidationException (see docs/fleet.md).
UNMODELLED_MAX_RESULTS = 1000


class FieldIssue(NamedTuple):
    """One validation failure: the member path (``filters.sourceServerIDs[3]``) and what is wrong."""

    path: str
    message: str


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE)


@cache
def operation_model(name: str) -> OperationModel:
    return service_model().operation_model(name)


@cache
def operation_names() -> tuple[str, ...]:
    return tuple(service_model().operation_names)


@cache
def regions() -> tuple[str, ...]:
    """The commercial-partition regions botocore's endpoint data lists for DRS (34 in botocore 1.44.5)."""
    return tuple(botocore.session.get_session().get_available_regions(SERVICE))


# ---------------------------------------------------------------------------------------- routing
@cache
def _routes() -> tuple[tuple[str, re.Pattern[str], str, tuple[str, ...]], ...]:
    """(method, path regex, operation, label names), literal paths first so they win over label paths."""
    out = []
    for name in operation_names():
        http = operation_model(name).http
        template = http["requestUri"].split("?", 1)[0]
        labels: list[str] = []

        def _label(m: re.Match[str], labels: list[str] = labels) -> str:
            label = m.group(1)
            greedy = label.endswith("+")
            labels.append(label.rstrip("+"))
            return "(.+)" if greedy else "([^/]+)"

        regex = re.sub(r"\\\{([^}]+)\\\}", _label, re.escape(template))
        out.append((http["method"], re.compile(f"^{regex}/?$"), name, tuple(labels)))
    out.sort(key=lambda r: len(r[3]))
    return tuple(out)


def route(method: str, raw_path: str) -> tuple[str, dict[str, str]] | None:
    """``("POST", "/DescribeSourceServers")`` -> ``("DescribeSourceServers", {})``; labels are unquoted."""
    path = raw_path.split("?", 1)[0]
    for m, regex, name, labels in _routes():
        if m != method:
            continue
        match = regex.match(path)
        if match:
            return name, {label: unquote(v) for label, v in zip(labels, match.groups(), strict=True)}
    return None


# ------------------------------------------------------------------------------------------ errors
@cache
def _error_shapes() -> dict[str, StructureShape]:
    sm = service_model()
    return {shape.name: shape for shape in sm.error_shapes}


def error_names() -> frozenset[str]:
    return frozenset(_error_shapes())


def error_status(code: str) -> int | None:
    shape = _error_shapes().get(code)
    return shape.metadata.get("error", {}).get("httpStatusCode") if shape else None


def error_members(code: str) -> frozenset[str]:
    shape = _error_shapes().get(code)
    return frozenset(shape.members) if shape else frozenset()


@cache
def operation_errors(name: str) -> frozenset[str]:
    """The error shapes the model declares for an operation."""
    return frozenset(e.name for e in operation_model(name).error_shapes)


# ----------------------------------------------------------------------------------------- input
class InputError(Exception):
    """The request could not be parsed (``cannotParse``) or failed validation (``fieldValidationFailed``)."""

    def __init__(self, reason: str, issues: list[FieldIssue]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.issues = issues


def parse_input(op: OperationModel, labels: dict[str, str], query: dict[str, list[str]], body: bytes) -> dict[str, Any]:
    """Build the input dict from the JSON body, query-string members and URI labels."""
    params: dict[str, Any] = {}
    if body and body.strip():
        try:
            decoded = json.loads(body)
        except ValueError as e:
            raise InputError("cannotParse", [FieldIssue("", f"Could not parse request body: {e}")]) from e
        if not isinstance(decoded, dict):
            raise InputError("cannotParse", [FieldIssue("", "Request body must be a JSON object")])
        params.update(decoded)
    shape = op.input_shape
    if shape is None:
        return params
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri" and wire in labels:
            params[name] = labels[wire]
        elif location == "querystring" and wire in query:
            params[name] = _query_value(name, member, query[wire])
    return params


def _query_value(name: str, member: Shape, values: list[str]) -> Any:
    """A query-string member as its model type (lists keep every value, scalars take the first)."""
    if member.type_name == "list":
        return list(values)
    if member.type_name in ("integer", "long"):
        try:
            return int(values[0])
        except ValueError as e:
            raise InputError("cannotParse", [FieldIssue(name, f"{values[0]!r} is not an integer")]) from e
    if member.type_name == "boolean":
        return values[0].lower() == "true"
    return values[0]


def validate_input(op: OperationModel, params: dict[str, Any]) -> list[FieldIssue]:
    """Model validation plus the simulator's cap on unmodelled ``maxResults`` maximums."""
    shape = op.input_shape
    if shape is None:
        return [FieldIssue(k, "unknown member") for k in params]
    issues = validate(params, shape)
    max_results = shape.members.get("maxResults")
    value = params.get("maxResults")
    if (
        max_results is not None
        and "max" not in max_results.metadata
        and isinstance(value, int)
        and value > UNMODELLED_MAX_RESULTS
    ):
        issues.append(
            FieldIssue("maxResults", f"Member must have value less than or equal to {UNMODELLED_MAX_RESULTS}")
        )
    return issues


def validation_message(params: dict[str, Any], issues: list[FieldIssue]) -> str:
    """AWS-style text: ``1 validation error detected: Value '301' at 'maxResults' failed to satisfy ...``."""
    parts = []
    for issue in issues[:10]:
        value = _lookup(params, issue.path)
        shown = "null" if value is None else str(value)
        parts.append(f"Value '{shown[:100]}' at '{issue.path}' failed to satisfy constraint: {issue.message}")
    n = len(issues)
    return f"{n} validation error{'s' if n != 1 else ''} detected: " + "; ".join(parts)


def _lookup(params: Any, path: str) -> Any:
    cur = params
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        try:
            cur = cur[int(token[1:-1])] if token.startswith("[") else cur[token]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return cur


# ------------------------------------------------------------------------------------- validator
def validate(value: Any, shape: Shape, path: str = "", *, check_patterns: bool = True) -> list[FieldIssue]:
    """Validate a Python value against a botocore shape; returns every issue found (empty = valid)."""
    issues: list[FieldIssue] = []
    _validate(value, shape, path, issues, check_patterns)
    return issues


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _validate(value: Any, shape: Shape, path: str, issues: list[FieldIssue], patterns: bool) -> None:
    check = _CHECKS.get(shape.type_name)
    if check is not None:
        check(value, shape, path, issues, patterns)


def _structure(value: Any, shape: StructureShape, path: str, issues: list[FieldIssue], patterns: bool) -> None:
    if not isinstance(value, dict):
        issues.append(FieldIssue(path, f"Member must be an object, not {type(value).__name__}"))
        return
    for req in shape.required_members:
        if value.get(req) is None:
            issues.append(FieldIssue(_join(path, req), "Member must not be null"))
    for k, v in value.items():
        member = shape.members.get(k)
        if member is None:
            issues.append(FieldIssue(_join(path, k), "Member is not defined by the model"))
        elif v is not None:
            _validate(v, member, _join(path, k), issues, patterns)


def _list(value: Any, shape: ListShape, path: str, issues: list[FieldIssue], patterns: bool) -> None:
    if not isinstance(value, list):
        issues.append(FieldIssue(path, "Member must be a list"))
        return
    _check_length(len(value), shape, path, issues)
    for i, v in enumerate(value):
        _validate(v, shape.member, f"{path}[{i}]", issues, patterns)


def _map(value: Any, shape: MapShape, path: str, issues: list[FieldIssue], patterns: bool) -> None:
    if not isinstance(value, dict):
        issues.append(FieldIssue(path, "Member must be a map"))
        return
    _check_length(len(value), shape, path, issues)
    for k, v in value.items():
        _validate(k, shape.key, f"{path}.key", issues, patterns)
        _validate(v, shape.value, f"{path}.{k}", issues, patterns)


def _string(value: Any, shape: StringShape, path: str, issues: list[FieldIssue], patterns: bool) -> None:
    if not isinstance(value, str):
        issues.append(FieldIssue(path, "Member must be a string"))
        return
    _check_length(len(value), shape, path, issues)
    enum = shape.enum
    if enum and value not in enum:
        issues.append(FieldIssue(path, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
    pattern = shape.metadata.get("pattern")
    if patterns and pattern and not _regex(pattern).search(value):
        issues.append(FieldIssue(path, f"Member must satisfy regular expression pattern: {pattern}"))


def _integer(value: Any, shape: Shape, path: str, issues: list[FieldIssue], patterns: bool) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        issues.append(FieldIssue(path, "Member must be an integer"))
        return
    _check_range(value, shape, path, issues)


def _scalar(kind: str, accepts: Callable[[Any], bool]) -> Callable[[Any, Shape, str, list[FieldIssue], bool], None]:
    """A check for a type whose model constraints the simulator does not check (only the value's type)."""

    def check(value: Any, shape: Shape, path: str, issues: list[FieldIssue], patterns: bool) -> None:
        if not accepts(value):
            issues.append(FieldIssue(path, f"Member must be {kind}"))

    return check


_CHECKS: dict[str, Callable[[Any, Any, str, list[FieldIssue], bool], None]] = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "integer": _integer,
    "long": _integer,
    "float": _scalar("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "double": _scalar("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "boolean": _scalar("a boolean", lambda v: isinstance(v, bool)),
    "timestamp": _scalar("a timestamp", lambda v: isinstance(v, str | int | float)),
}


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    # Smithy patterns are not implicitly anchored: a match anywhere in the value satisfies them.
    return re.compile(pattern)


def _check_length(n: int, shape: Shape, path: str, issues: list[FieldIssue]) -> None:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and n < lo:
        issues.append(FieldIssue(path, f"Member must have length greater than or equal to {lo}"))
    if hi is not None and n > hi:
        issues.append(FieldIssue(path, f"Member must have length less than or equal to {hi}"))


def _check_range(n: int, shape: Shape, path: str, issues: list[FieldIssue]) -> None:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and n < lo:
        issues.append(FieldIssue(path, f"Member must have value greater than or equal to {lo}"))
    if hi is not None and n > hi:
        issues.append(FieldIssue(path, f"Member must have value less than or equal to {hi}"))
