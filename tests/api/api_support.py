"""Helpers of the API tests: a small fleet, request shortcuts, and a recorder of the AWS calls each function
makes, checked against the IAM policies the template gives that function (as deployed into moto's IAM)."""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.client

from sandbox import Sandbox, lambda_logs

TARGET = "111111111111"
OTHER_TARGET = "222222222222"
STAGING = "333333333333"
NEW_TARGET = "444444444444"  # in the fleet (role, servers) but not in the accounts table
REGIONS = ["eu-west-1", "us-east-1"]

FLEET: dict[str, Any] = {
    "seed": 17,
    "accounts": [
        {
            "accountId": TARGET,
            "kind": "target",
            "stagingAccounts": [STAGING],
            "regions": {
                "us-east-1": {"sourceServers": 5, "recoveryInstances": 2, "ec2Backed": 1.0},
                "eu-west-1": {"sourceServers": 2},
            },
        },
        {
            "accountId": OTHER_TARGET,
            "kind": "target",
            "externalId": "ext-other",
            "stagingAccounts": [STAGING],  # DRS trusts it; tests take it off the table and add it back
            "regions": {"us-east-1": {}},  # DRS initialized, no servers of its own (extensions need it)
        },
        {"accountId": STAGING, "kind": "staging", "regions": {"us-east-1": {"sourceServers": 3}}},
        {
            "accountId": NEW_TARGET,
            "kind": "target",
            "registered": False,
            "externalId": "ext-new",
            "regions": {"eu-west-1": {"sourceServers": 4}},
        },
    ],
}


def open_sandbox(fleet: dict[str, Any] | None = None) -> Sandbox:
    return Sandbox(fleet=copy.deepcopy(fleet or FLEET), parameters={"DrsRegions": ",".join(REGIONS)})


def expect(sb: Sandbox, method: str, path: str, status: int, query=None, body=None) -> Any:
    got, payload = sb.api(method, path, query, body)
    assert got == status, f"{method} {path}: {got} {json.dumps(payload)[:800]}"
    return payload


def deploy_role(sb: Sandbox, account: str, external_id: str) -> None:
    """What the operator does with the ExternalId the hub returned: update the account's role stack
    (templates/cross-account-role.yaml) with parameter ExternalId = it. The stack update changes only the
    role's trust policy, its `sts:ExternalId` condition: done here on the deployed role (moto IAM)."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["global"]
    role = iam.get_role(sb.cross_account_role_name)
    policy = json.loads(role.assume_role_policy_document)
    conditions = [s["Condition"]["StringEquals"] for s in policy["Statement"] if "Condition" in s]
    with_id = [c for c in conditions if "sts:ExternalId" in c]
    assert with_id, "the shipped role's trust always requires an ExternalId"
    for condition in with_id:
        condition["sts:ExternalId"] = external_id
    iam.update_assume_role_policy(sb.cross_account_role_name, json.dumps(policy))


def fields(payload: dict[str, Any]) -> set[str]:
    return {e["field"] for e in payload.get("errors") or []}


def wait_all(sb: Sandbox) -> None:
    """Wait for every running execution of every state machine (an accepted POST may have started one)."""
    sfn = sb.client("stepfunctions")
    for arn in sb.state_machines.values():
        for e in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            sb.wait(e["executionArn"])


def execution_count(sb: Sandbox) -> int:
    sfn = sb.client("stepfunctions")
    return sum(len(sfn.list_executions(stateMachineArn=arn)["executions"]) for arn in sb.state_machines.values())


def drs_writes(sb: Sandbox) -> int:
    """DRS calls that change something (anything but Describe*, List*, Get*)."""
    return sum(
        c["calls"] for c in sb.drs_calls()["calls"] if not c["operation"].startswith(("Describe", "List", "Get"))
    )


def table_snapshot(sb: Sandbox) -> dict[str, list[str]]:
    """Every item of every product table, read from moto's backend in memory (a scan of each table through
    the API takes ~50 ms, too slow before and after every fuzzed request)."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[sb.account][sb.region]
    out = {}
    for name, physical in sb.tables.items():
        items = backend.get_table(physical).all_items()
        out[name] = sorted(json.dumps(i.to_json(), sort_keys=True) for i in items)
    return out


# ------------------------------------------------------------------ AWS calls per function, against IAM


@dataclass(frozen=True)
class Call:
    function: str  # physical function name
    service: str  # botocore service name (dynamodb, stepfunctions, sts, ...)
    operation: str
    params: dict[str, Any]


@contextmanager
def recorded_calls() -> Iterator[list[Call]]:
    """Every AWS call made with a function's own credentials while a handler runs (not those made under an
    assumed role), tagged with the function: the invocation bound to the calling thread (a handler's own
    thread or a pool thread it started) names it."""
    calls: list[Call] = []
    original_call = botocore.client.BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        invocation = lambda_logs.current()
        creds = self._request_signer._credentials
        if invocation is not None and creds is not None and creds.access_key == "testing":
            service = self.meta.service_model.service_name
            calls.append(Call(invocation.function, service, operation_name, dict(api_params)))
        return original_call(self, operation_name, api_params)

    setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)  # noqa: B010
    try:
        yield calls
    finally:
        setattr(botocore.client.BaseClient, "_make_api_call", original_call)  # noqa: B010


IAM_PREFIX = {"stepfunctions": "states"}
NO_PERMISSION_NEEDED = {("sts", "GetCallerIdentity")}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(sb: Sandbox, function_logical_id: str) -> list[dict[str, Any]]:
    """The Allow statements of a function's role as deployed: its inline policies (the function's own and
    standalone AWS::IAM::Policy resources naming the role) and its attached managed policies."""
    iam = sb.client("iam")
    role_arn = sb.client("lambda").get_function(FunctionName=sb.function_name(function_logical_id))["Configuration"][
        "Role"
    ]
    role = role_arn.rsplit("/", 1)[-1]
    docs = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        docs.append(version["PolicyVersion"]["Document"])
    out = []
    for doc in docs:
        doc = json.loads(doc) if isinstance(doc, str) else doc
        out += [s for s in _as_list(doc["Statement"]) if s.get("Effect") == "Allow"]
    return out


def _table_arn(sb: Sandbox, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{sb.region}:{sb.account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def required_permissions(sb: Sandbox, call: Call) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(IAM action, resource ARN, DynamoDB key or item) each call needs."""
    prefix = IAM_PREFIX.get(call.service, call.service)
    p = call.params
    if call.service == "dynamodb":
        if call.operation == "TransactWriteItems":
            out = []
            for item in p["TransactItems"]:
                (kind, body) = next(iter(item.items()))
                action = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}.get(kind, kind + "Item")
                key = body.get("Key") or body.get("Item")
                out.append((f"dynamodb:{action}", _table_arn(sb, body["TableName"]), key))
            return out
        if call.operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{call.operation}", _table_arn(sb, t), None) for t in p["RequestItems"]]
        key = p.get("Key") or p.get("Item")
        return [(f"dynamodb:{call.operation}", _table_arn(sb, p["TableName"], p.get("IndexName")), key)]
    if call.service == "stepfunctions":
        resource = p.get("executionArn") or p.get("stateMachineArn") or "*"
        return [(f"states:{call.operation}", resource, None)]
    if call.service == "sts" and call.operation == "AssumeRole":
        tagging = [("sts:TagSession", p["RoleArn"], None)] if p.get("Tags") else []
        return [("sts:AssumeRole", p["RoleArn"], None), *tagging]
    return [(f"{prefix}:{call.operation}", "*", None)]


def _leading_keys_ok(condition: dict[str, Any], key: dict[str, Any] | None) -> bool:
    for operator, clauses in condition.items():
        for name, allowed in clauses.items():
            if name.lower() != "dynamodb:leadingkeys" or "StringEquals" not in operator:
                return False  # a condition this checker does not evaluate: assume it denies
            if key is None:
                return False
            partition = next(iter(key.values())) if len(key) == 1 else key.get("pk", key.get("accountId"))
            if partition not in _as_list(allowed):
                return False
    return True


def allowed(statements: list[dict[str, Any]], action: str, resource: str, key: dict[str, Any] | None) -> bool:
    for s in statements:
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(s.get("Action", []))):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(s.get("Resource", []))):
            continue
        if s.get("Condition") and not _leading_keys_ok(s["Condition"], key):
            continue
        return True
    return False


def denied_calls(sb: Sandbox, calls: list[Call], function_logical_id: str) -> list[str]:
    """The calls of this function its role would not allow (empty when the template's policy covers them)."""
    name = sb.function_name(function_logical_id)
    statements = role_statements(sb, function_logical_id)
    out = []
    for call in calls:
        if call.function != name or (call.service, call.operation) in NO_PERMISSION_NEEDED:
            continue
        for action, resource, key in required_permissions(sb, call):
            if not allowed(statements, action, resource, key):
                out.append(f"{action} on {resource}" + (f" key {key}" if key else ""))
    return sorted(set(out))
