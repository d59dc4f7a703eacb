"""The docs' claims a machine can check: the names they give exist in the code, the template or the AWS models;
their log groups are the template's; their routes are the API's; the sample events they name exist, and every
sample event's target exists and accepts it."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatch
from functools import cache
from typing import Any

import botocore.session
import jsonschema
import pytest
from pydantic import BaseModel
from template_helpers import ROOT, template_syncs

from fleet_sync.api.operations import OPERATIONS, DirectInvocation
from fleet_sync.events.drs_events import DrsEvent, meaning_of
from fleet_sync.run import models
from fleet_sync.run.registry import SYNCS, sync_spec
from sandbox.stack import load_template

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EVENTS = ROOT / "events"
CODE = ["functions/**/*.py", "sandbox/**/*.py", "sandbox/**/*.js", "statemachines/*.json", "template.yaml"]
CODE += ["templates/*.yaml", "openapi/*.json", "bench/*.py"]
# docs/design.md's recipe for adding a sync names what a new sync ("cleanup") would add
RECIPE = re.compile(r"^Cleanup[A-Z]|cleanup")
# named by the docs but not ours: an IAM condition operator, Powertools' metric, an AWS managed policy, and an
# index the docs say the table does not have
NOT_OURS = {"ArnLike", "ColdStart", "AmazonAPIGatewayPushToCloudWatchLogs", "ByRecoveryInstanceId"}
# the docs' examples of requests the API refuses (405 and 404)
REFUSED = {("DELETE", "/regions"), ("GET", "/nope")}
AWS_SERVICES = ("drs", "ec2", "sts", "iam", "dynamodb", "stepfunctions", "lambda", "s3", "cloudwatch", "scheduler")


def doc_text() -> dict[str, str]:
    return {d.relative_to(ROOT).as_posix(): d.read_text() for d in DOCS}


def backticked() -> list[tuple[str, str]]:
    return [(name, m) for name, text in doc_text().items() for m in re.findall(r"`([^`\n]+)`", text)]


@cache
def code_text() -> str:
    sources = [p.read_text(errors="replace") for pattern in CODE for p in sorted(ROOT.glob(pattern))]
    template = load_template(ROOT / "template.yaml")  # with its Fn::ForEach loops expanded
    ids = [name for part in ("Parameters", "Conditions", "Resources", "Outputs") for name in template.get(part, {})]
    return "\n".join([*sources, *ids])


@cache
def aws_error_names() -> frozenset[str]:
    session = botocore.session.get_session()
    names = set()
    for service in AWS_SERVICES:
        model = session.get_service_model(service)
        names |= {s for s in model.shape_names if model.shape_for(s).metadata.get("exception")}
    return frozenset(names)


# ------------------------------------------------------------------ names


def test_every_name_the_docs_give_exists_in_the_code_or_the_aws_models():
    camel = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+$")
    unknown = sorted(
        {
            f"{doc}: {token}"
            for doc, token in backticked()
            if camel.match(token)
            and token not in NOT_OURS
            and not RECIPE.search(token)
            and token not in code_text()
            and token not in aws_error_names()
        }
    )
    assert unknown == []


def test_every_error_the_docs_name_is_raised_or_answered_somewhere():
    """Names shaped like errors (…Exception, …Error) are product errors in the code or AWS errors in the models."""
    error = re.compile(r"^[A-Z][A-Za-z]+(?:Exception|Error|Fault)$")
    unknown = sorted(
        {f"{doc}: {t}" for doc, t in backticked() if error.match(t) and t not in code_text() + str(aws_error_names())}
    )
    assert unknown == []


def test_every_state_machine_the_docs_name_is_a_sync_of_the_template():
    named = {(doc, m) for doc, text in doc_text().items() for m in re.findall(r"\{stack\}-([a-z-]+)-sync\b", text)}
    assert {f"{doc}: {sync}" for doc, sync in named if sync not in template_syncs() and sync != "cleanup"} == set()


# ------------------------------------------------------------------ log groups


def _glob(name: str) -> str:
    """A log group name with its placeholders ({stack}, <sync>, ${AWS::StackName}, ${${Function}}, ...) as *."""
    return re.sub(r"\$\{\$\{[^}]*\}\}|\$\{[^}]*\}|\{[^}]*\}|<[^>]*>|\.\.\.", "*", name)


def template_log_groups() -> set[str]:
    lines = [line.split(" #")[0] for line in (ROOT / "template.yaml").read_text().splitlines()]
    return {m for line in lines if not line.lstrip().startswith("#") for m in re.findall(r"/aws/[^\s'\"]+", line)}


def test_the_log_groups_the_docs_name_are_the_templates():
    ours = {_glob(g) for g in template_log_groups()}
    assert len(ours) == 3, ours  # each function's, each state machine's, the API's access log
    docs = {(doc, g) for doc, text in doc_text().items() for g in re.findall(r"/aws/[^\s`'\")]+", text)}
    assert {f"{doc}: {g}" for doc, g in docs if not any(fnmatch(_glob(g), t) for t in ours)} == set()
    assert {t for t in ours if not any(fnmatch(_glob(g), t) for _, g in docs)} == set()  # each one documented


# ------------------------------------------------------------------ routes


@cache
def openapi() -> dict[str, Any]:
    return json.loads((ROOT / "openapi" / "openapi.json").read_text())


def _route_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path.rstrip("/"))) + "$")


def api_routes() -> list[tuple[str, str, re.Pattern[str]]]:
    return [(m.upper(), p, _route_pattern(p)) for p, ops in openapi()["paths"].items() for m in ops]


def doc_routes() -> set[tuple[str, str, str, bool]]:
    """(doc, method, path, given as a suffix) for every `METHOD /path` in the docs, compound forms expanded:
    `GET/POST /a`, `/a[/{b}]`, `.../b`."""
    verb = "(?:GET|POST|PUT|PATCH|DELETE)"
    found = re.compile(rf"\b({verb}(?:(?:/|`?, `?){verb})*) (\.\.\.)?(/[\w{{}}\-/.\[\]+*]*)")
    out = set()
    for doc, text in doc_text().items():
        for methods, dots, path in found.findall(text):
            path = path.split("?")[0].rstrip(".")
            variants = {re.sub(r"\[[^\]]*\]", "", path), path.replace("[", "").replace("]", "")}
            out |= {(doc, m, v.rstrip("/") or "/", bool(dots)) for m in re.split(r"[/,` ]+", methods) for v in variants}
    return out


def _is_route(method: str, path: str, suffix: bool) -> bool:
    for m, template, pattern in api_routes():
        if m != method:
            continue
        if path.endswith("/*") and template.startswith(path[:-1]):  # an IAM resource pattern of routes
            return True
        if pattern.match(path) or re.sub(r"\{[^}]*\}", "{}", template) == re.sub(r"\{[^}]*\}", "{}", path):
            return True
        if suffix and re.sub(r"\{[^}]*\}", "{}", template).endswith(re.sub(r"\{[^}]*\}", "{}", path)):
            return True
    return False


def test_every_route_the_docs_name_is_a_route_of_the_api():
    routes = doc_routes()
    assert len(routes) > 40
    wrong = sorted(
        f"{doc}: {m} {p}" for doc, m, p, suffix in routes if (m, p) not in REFUSED and not _is_route(m, p, suffix)
    )
    assert wrong == []


def test_every_route_of_the_api_is_in_the_api_docs():
    documented = {(m, re.sub(r"\{[^}]*\}", "{}", p)) for doc, m, p, _ in doc_routes() if doc == "docs/api.md"}
    missing = sorted(
        f"{m} {template}"
        for m, template, _ in api_routes()
        if (m, re.sub(r"\{[^}]*\}", "{}", template)) not in documented
    )
    assert missing == []


# ------------------------------------------------------------------ sample events


def test_every_sample_file_the_docs_name_exists():
    named = {
        (doc, m)
        for doc, text in doc_text().items()
        for m in re.findall(r"\b((?:events/)?(?:fleets/)?[\w-]+\.(?:json|yaml))\b", text)
        if m.startswith("events/") or re.match(r"(api|task)-|[\w-]+-sync", m)
    }
    assert len(named) > 20
    missing = sorted(
        f"{doc}: {m}"
        for doc, m in named
        if not RECIPE.search(m)
        and not (ROOT / m).is_file()
        and not (EVENTS / m).is_file()
        and not (EVENTS / "fleets" / m).is_file()
    )
    assert missing == []


def _function_model(function_id: str) -> type[BaseModel]:
    """The model a task function's handler parses its event with (`parse_event(Model, event, ...)`)."""
    template = load_template(ROOT / "template.yaml")
    resource = template["Resources"].get(function_id)
    assert resource is not None, f"the template has no {function_id}"
    app = ROOT / resource["Properties"]["CodeUri"] / "app.py"
    found = re.search(r"parse_event\((\w+), event", app.read_text())
    assert found, f"{app} parses no event"
    model = getattr(models, found.group(1))
    assert isinstance(model, type) and issubclass(model, BaseModel), found.group(1)
    return model


def _task_function(name: str) -> str:
    return "".join(w.title() for w in name.removeprefix("task-").removesuffix(".json").split("-")) + "Function"


def _check_api_event(event: dict[str, Any]) -> None:
    """An API Gateway event: a route of the API, with only declared query parameters and a valid body."""
    operations = openapi()["paths"].get(event["resource"])
    assert operations and event["httpMethod"].lower() in operations, (event["httpMethod"], event["resource"])
    operation = operations[event["httpMethod"].lower()]
    declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    assert set(event.get("queryStringParameters") or {}) <= declared
    body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body_schema is not None:
        schema = {**body_schema, "components": openapi()["components"]}
        jsonschema.validate(json.loads(event["body"]), schema)
    else:
        assert not event.get("body")


@pytest.mark.parametrize("sample", sorted(p.name for p in EVENTS.glob("*.json")))
def test_every_sample_event_has_a_target_that_accepts_it(sample):
    event = json.loads((EVENTS / sample).read_text())
    if sample.startswith("task-"):
        _function_model(_task_function(sample)).model_validate(event)
    elif sample.startswith("api-"):
        _check_api_event(event)
    elif sample.startswith("drs-event-"):  # an EventBridge event for DrsEventFunction, one the hub acts on
        assert meaning_of(DrsEvent.model_validate(event)) is not None
    elif sample.endswith("-direct-invocation.json") or sample == "recovery-instances-sync-status.json":
        assert DirectInvocation.model_validate(event).operation in OPERATIONS
        if "input" in event:
            sync = sample.removesuffix("-sync-direct-invocation.json")
            models.parse_sync_input(sync_spec(sync).input_model, sync, event["input"])
    else:  # an execution input: <sync>-sync.json or <sync>-sync-<variant>.json
        sync = next((s for s in SYNCS if re.fullmatch(rf"{s}-sync(-[\w-]+)?\.json", sample)), None)
        assert sync is not None, f"{sample}: no sync of that name"
        models.parse_sync_input(sync_spec(sync).input_model, sync, event)


def test_the_readme_names_every_execution_input_key_each_sync_takes():
    # "Anything else fails" in the README's paragraph on execution inputs is only true if it names them all
    readme = (ROOT / "README.md").read_text()
    start = readme.index("The execution input may narrow a run")
    paragraph = readme[start : readme.index("InvalidSyncInput", start)]
    named = set(re.findall(r"`([A-Za-z]+)`", paragraph)) | set(re.findall(r'"([A-Za-z]+)"', paragraph))
    for sync in SYNCS:
        keys = set(sync_spec(sync).input_model.model_fields)
        assert keys <= named, f"{sync}: the README's input paragraph leaves out {sorted(keys - named)}"
