"""Least privilege of the stack, read from the TRANSLATED template (what `sam deploy` creates), so the
policies SAM generates (policy templates, schedule roles, managed policies) are checked with ours.

- no statement grants `*` or `service:*` as an action;
- every resource is the stack's own table, bucket, function or state machine; `*` only for actions that take
  no resource (the exceptions below, each with its reason);
- sts:AssumeRole (with sts:TagSession) names exactly the fleet role, and only the sync workers and the manage function
  (terminate, inventory refresh) may assume it;
- the query function has no write action at all: no Put/Update/Delete/BatchWrite/TransactWrite, no
  StartExecution/StopExecution, no DRS or EC2 action, no AssumeRole;
- resource policies (function permissions, the alarm key) name their principals and sources.
The cross-account role is checked against the code in test_least_privilege_role.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from template_helpers import ROOT

from sandbox import stack

# ------------------------------------------------------------------ exceptions, each with its reason

# Actions that support no resource-level permission: "*" is the only resource they can name.
NO_RESOURCE_ACTIONS = {
    # Step Functions' log delivery to CloudWatch Logs (state machine Logging), per the Step Functions guide.
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    # X-Ray (Tracing: Active / Tracing.Enabled): trace segments and sampling rules have no ARN.
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
}
# The AWS managed policies SAM attaches, and why they may stay.
MANAGED_POLICIES = {
    # every function's own log group (SAM attaches it to each function role; its log group is created on
    # first write, so the policy names "*": the one accepted resource wildcard on a resource-capable action)
    "AWSLambdaBasicExecutionRole": {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
    # X-Ray for functions and state machines
    "AWSXrayWriteOnlyAccess": {a for a in NO_RESOURCE_ACTIONS if a.startswith("xray:")},
}
# The optional execution-history table of an orchestrator (parameter): read through its job-id index only.
HISTORY_INDEX = {
    "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
    "${ExecutionHistoryTableName}/index/${ExecutionHistoryIndexName}"
}
FLEET_ROLE = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${CrossAccountRoleName}"}
# Besides the sync workers, the API's write routes assume the fleet role: terminate and inventory refresh.
ASSUMING_BESIDES_WORKERS = {"ManageApiFunction"}
QUERY_FUNCTION = "QueryApiFunction"
READ_VERBS = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "ConditionCheck")
OWN = "arn:${AWS::Partition}:{service}:${AWS::Region}:${AWS::AccountId}:"


# ------------------------------------------------------------------ reading the translated template


@dataclass(frozen=True)
class Grant:
    role: str  # logical id of the role
    source: str  # inline policy name, standalone policy id, or managed policy name
    statement: dict[str, Any]

    @property
    def actions(self) -> list[str]:
        a = self.statement.get("Action", [])
        return [a] if isinstance(a, str) else list(a)

    @property
    def resources(self) -> list[Any]:
        r = self.statement.get("Resource", [])
        return r if isinstance(r, list) else [r]


@cache
def translated() -> dict[str, Any]:
    return stack.translate(ROOT / "template.yaml").cfn


def resources_of(rtype: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in translated()["Resources"].items() if r["Type"] == rtype}


def managed_name(arn: Any) -> str:
    text = arn if isinstance(arn, str) else json.dumps(arn)
    match = re.fullmatch(r"arn:aws:iam::aws:policy/(?:[\w-]+/)*([\w+=,.@-]+)", text)
    assert match, f"managed policy {text} is not an AWS managed policy the test knows"
    return match.group(1)


@cache
def grants() -> tuple[Grant, ...]:
    """Every Allow statement of every role: inline, standalone (AWS::IAM::Policy) and AWS managed."""
    out: list[Grant] = []
    for lid, role in resources_of("AWS::IAM::Role").items():
        props = role["Properties"]
        for policy in props.get("Policies", []):
            out += [Grant(lid, policy["PolicyName"], s) for s in policy["PolicyDocument"]["Statement"]]
        for arn in props.get("ManagedPolicyArns", []):
            name = managed_name(arn)
            document = stack.aws_managed_policy_document(name)
            assert document is not None, name
            doc = document.get("Document", document)
            out += [Grant(lid, name, s) for s in doc["Statement"]]
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for lid, policy in resources_of(kind).items():
            props = policy["Properties"]
            for role in props.get("Roles", []):
                out += [Grant(role["Ref"], lid, s) for s in props["PolicyDocument"]["Statement"]]
    assert all(g.statement.get("Effect") == "Allow" for g in out)
    return tuple(out)


def role_of_function(function_id: str) -> str:
    role = resources_of("AWS::Lambda::Function")[function_id]["Properties"]["Role"]
    return role["Fn::GetAtt"][0]


def function_of_role() -> dict[str, str]:
    return {role_of_function(f): f for f in resources_of("AWS::Lambda::Function")}


def sync_workers() -> set[str]:
    out = set()
    for machine in resources_of("AWS::StepFunctions::StateMachine").values():
        worker = machine["Properties"]["DefinitionSubstitutions"].get("WorkerFunctionArn")
        if worker:
            out.add(worker["Fn::GetAtt"][0])
    return out


def sub_text(resource: Any) -> tuple[str, dict[str, Any]]:
    """(template text, variables) of a Fn::Sub resource; GetAtt/Ref become `${Id.Arn}` / `${Id}`."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        lid, attr = resource["Fn::GetAtt"]
        return "${" + f"{lid}.{attr}" + "}", {}
    if isinstance(resource, dict) and "Ref" in resource:
        return "${" + resource["Ref"] + "}", {}
    assert isinstance(resource, str), resource
    return resource, {}


def referenced(resource: Any) -> set[str]:
    """Logical ids of the template's resources that a resource ARN refers to (not parameters)."""
    text, variables = sub_text(resource)
    ids = {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} - set(variables)
    ids |= stack.references(variables)
    return ids & set(translated()["Resources"])


def own(resource: Any, rtype: str) -> bool:
    ids = referenced(resource)
    return bool(ids) and all(translated()["Resources"][i]["Type"] == rtype for i in ids)


def stack_named(resource: Any, service: str, kinds: tuple[str, ...]) -> bool:
    """An ARN of this account and region whose name starts with the stack's name (its machines, executions)."""
    text, _ = sub_text(resource)
    prefix = OWN.replace("{service}", service)
    return any(text.startswith(f"{prefix}{kind}:${{AWS::StackName}}-") for kind in kinds)


# ------------------------------------------------------------------ actions


def test_the_template_has_policies_to_check():
    roles = {g.role for g in grants()}
    assert {role_of_function(f) for f in resources_of("AWS::Lambda::Function")} <= roles
    assert {f"{m}Role" for m in resources_of("AWS::StepFunctions::StateMachine")} <= roles


def test_no_statement_grants_a_wildcard_action():
    for g in grants():
        for action in g.actions:
            assert action != "*" and "*" not in action, f"{g.role} ({g.source}) grants {action}"
        assert "NotAction" not in g.statement and "NotResource" not in g.statement, g


def test_only_known_managed_policies_are_attached():
    for g in grants():
        if g.source in MANAGED_POLICIES:
            assert set(g.actions) <= MANAGED_POLICIES[g.source], g
    attached = {
        managed_name(arn)
        for r in resources_of("AWS::IAM::Role").values()
        for arn in r["Properties"].get("ManagedPolicyArns", [])
    }
    assert attached <= set(MANAGED_POLICIES)


# ------------------------------------------------------------------ resources


def check_resource(g: Grant, action: str, resource: Any) -> str | None:
    """Why this (action, resource) is not allowed, or None."""
    service = action.split(":", 1)[0]
    if resource == "*":
        ok = action in NO_RESOURCE_ACTIONS or (g.source in MANAGED_POLICIES and action in MANAGED_POLICIES[g.source])
        return None if ok else "'*' on an action that takes a resource"
    if service == "dynamodb":
        if resource == HISTORY_INDEX:
            return None if action == "dynamodb:Query" else "only Query on the execution-history index"
        text, _ = sub_text(resource)
        arn_ok = text.startswith(OWN.replace("{service}", "dynamodb") + "table/") or text.endswith(".Arn}")
        return None if own(resource, "AWS::DynamoDB::Table") and arn_ok else "not one of the stack's tables"
    if service == "s3":
        return None if own(resource, "AWS::S3::Bucket") else "not the stack's bucket"
    if service == "lambda":
        return None if own(resource, "AWS::Lambda::Function") else "not one of the stack's functions"
    if service == "states":
        if own(resource, "AWS::StepFunctions::StateMachine"):
            return None
        return None if stack_named(resource, "states", ("stateMachine", "execution")) else "not the stack's machines"
    if action in ("sts:AssumeRole", "sts:TagSession"):
        return None if resource == FLEET_ROLE else "not the fleet role"
    return f"no rule for {service}: add one before granting it"


def test_every_resource_is_the_stacks_own():
    problems = []
    for g in grants():
        for action in g.actions:
            for resource in g.resources:
                why = check_resource(g, action, resource)
                if why:
                    problems.append(f"{g.role} ({g.source}): {action} on {json.dumps(resource)}: {why}")
    assert problems == []


OTHER_TABLE = {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/other"}
OTHER_MACHINE = {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:other"}


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("dynamodb:PutItem", "*"),
        ("dynamodb:PutItem", OTHER_TABLE),
        ("dynamodb:PutItem", {"Fn::GetAtt": ["PlanBucket", "Arn"]}),
        ("dynamodb:Scan", HISTORY_INDEX),
        ("states:StartExecution", OTHER_MACHINE),
        ("s3:GetObject", {"Fn::GetAtt": ["InventoryTable", "Arn"]}),
        ("sts:AssumeRole", {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/*"}),
        ("ec2:DescribeInstances", "*"),
        ("sqs:SendMessage", {"Fn::GetAtt": ["InventoryTable", "Arn"]}),
    ],
)
def test_the_resource_rules_refuse(action, resource):
    assert check_resource(Grant("SomeRole", "inline", {}), action, resource) is not None


def test_a_wildcard_resource_is_never_mixed_with_other_actions():
    # a statement naming "*" holds only resource-less actions (no write slipped in beside them)
    for g in grants():
        if "*" in g.resources and g.source not in MANAGED_POLICIES:
            assert set(g.actions) <= NO_RESOURCE_ACTIONS, g


# ------------------------------------------------------------------ the fleet role


def test_only_sync_workers_and_data_management_assume_the_fleet_role():
    by_role = function_of_role()
    assuming = {by_role.get(g.role, g.role) for g in grants() if "sts:AssumeRole" in g.actions}
    assert sync_workers() <= assuming
    assert assuming <= sync_workers() | ASSUMING_BESIDES_WORKERS
    for g in grants():
        if "sts:AssumeRole" in g.actions:
            assert g.actions == ["sts:AssumeRole", "sts:TagSession"] and g.resources == [FLEET_ROLE], g


def test_no_other_identity_or_session_action_is_granted():
    for g in grants():
        for action in g.actions:
            service = action.split(":", 1)[0]
            assert service not in ("iam", "organizations", "kms") or g.source in MANAGED_POLICIES, (g.role, action)
            assert action not in ("sts:AssumeRoleWithWebIdentity", "sts:GetFederationToken", "iam:PassRole"), g


# ------------------------------------------------------------------ the query function


def is_write(action: str) -> bool:
    verb = action.split(":", 1)[1]
    return not verb.startswith(READ_VERBS)


def test_the_query_function_exists_and_is_an_api_route():
    functions = resources_of("AWS::Lambda::Function")
    assert QUERY_FUNCTION in functions, "the API's read-only function is missing from the template"


def test_the_query_function_cannot_write():
    role = role_of_function(QUERY_FUNCTION)
    actions = {a for g in grants() if g.role == role and g.source not in MANAGED_POLICIES for a in g.actions}
    assert actions, "the query function reads nothing?"
    assert sorted(a for a in actions if is_write(a)) == []
    assert not {a for a in actions if a.split(":")[0] in ("drs", "ec2", "sts")}
    assert not actions & {"states:StartExecution", "states:StopExecution", "states:StartSyncExecution"}
    assert not {a for a in actions if re.search(r":(Put|Update|Delete|BatchWrite|TransactWrite)", a)}
    # its managed policies are only its own logs and traces
    managed = {g.source for g in grants() if g.role == role and g.source in MANAGED_POLICIES}
    assert managed <= set(MANAGED_POLICIES)


@pytest.mark.parametrize("action", ["dynamodb:PutItem", "states:StartExecution", "drs:TagResource"])
def test_is_write_knows_a_write(action):
    assert is_write(action)


# ------------------------------------------------------------------ resource policies


def test_function_permissions_name_their_caller_and_source():
    for lid, perm in resources_of("AWS::Lambda::Permission").items():
        props = perm["Properties"]
        assert props["Action"] == "lambda:InvokeFunction", lid
        assert props["Principal"] != "*", lid
        if props["Principal"].endswith(".amazonaws.com"):
            assert "SourceArn" in props, f"{lid}: a service may invoke it from any account's resource"


def test_the_alarm_key_trusts_only_this_account_and_cloudwatch():
    [(lid, key)] = resources_of("AWS::KMS::Key").items()
    assert key["Properties"]["EnableKeyRotation"] is True
    for s in key["Properties"]["KeyPolicy"]["Statement"]:
        principal = s["Principal"]
        assert principal != "*" and principal.get("AWS") != "*", lid
        if "Service" in principal:
            assert principal == {"Service": "cloudwatch.amazonaws.com"}
            assert set(s["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        else:  # the default key policy: the account administers the key through IAM
            assert principal == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}


def _assume_role_statements(cfn: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
        for policy in r["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if "sts:AssumeRole" in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    ]


@pytest.mark.parametrize("organization", ["", "o-abcdefghij"])
def test_the_fleet_role_is_assumed_only_inside_the_organization_when_one_is_given(organization):
    done = stack.translate(ROOT / "template.yaml", {"FleetOrganizationId": organization})
    statements = _assume_role_statements(done.cfn)
    assert len(statements) >= 5
    condition = done.cfn["Conditions"]["HasFleetOrganization"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "FleetOrganizationId"}, ""]}]}
    for statement in statements:
        choice, inside, outside = statement["Condition"]["Fn::If"]
        assert choice == "HasFleetOrganization" and outside == {"Ref": "AWS::NoValue"}
        assert inside == {"StringEquals": {"aws:ResourceOrgID": {"Ref": "FleetOrganizationId"}}}
    assert done.parameters["FleetOrganizationId"] == organization
