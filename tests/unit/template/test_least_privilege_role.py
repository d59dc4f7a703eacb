"""templates/cross-account-role.yaml grants exactly the DRS and EC2 actions the code calls, and trusts only
the product stack, with the ExternalId.

The calls are read from the code (AST of every module under functions/): methods called on a client bound to
a name `drs` or `ec2`, and the operations of their paginators; botocore's service models map each method to
its operation, which is the IAM action's name. A new DRS or EC2 call without a grant (or a grant no code
uses) fails here.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from template_helpers import ROOT

from sandbox.stack import load_template

CODE = ROOT / "functions"
ROLE_TEMPLATE = ROOT / "templates" / "cross-account-role.yaml"
SERVICES = ("drs", "ec2")
# Actions the Service Authorization Reference lists as dependent: the call needs them too.
DEPENDENT_ACTIONS = {
    "drs:CreateExtendedSourceServer": {"drs:TagResource"},  # it tags the new server
    "drs:TerminateRecoveryInstances": {"ec2:TerminateInstances"},  # its job ends the EC2 instances as the caller
}
# Granted only for DRS acting with the role's permissions (aws:ViaAWSService), never for a direct call.
THROUGH_DRS_ONLY = {"ec2:TerminateInstances": "instance"}
# Where an action supports resource-level permissions, the role names this account's resources of that type;
# every other action supports none (Describe*/List*, CreateExtendedSourceServer) and can only name "*".
RESOURCE_TYPES = {
    "drs:TagResource": "source-server",
    "drs:UntagResource": "source-server",
    "drs:UpdateLaunchConfiguration": "source-server",
    "drs:TerminateRecoveryInstances": "recovery-instance",
    "drs:DescribeJobLogItems": "job",
}
NO_RESOURCE_TYPE = {
    "drs:DescribeSourceServers",
    "drs:DescribeReplicationConfigurationTemplates",
    "drs:DescribeRecoveryInstances",
    "drs:DescribeJobs",
    "drs:ListExtensibleSourceServers",
    "drs:CreateExtendedSourceServer",
    "ec2:DescribeInstances",
}


@cache
def operations(service: str) -> dict[str, str]:
    """boto3 method name -> API operation name (= IAM action name) for one service."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


def modules() -> list[Path]:
    return sorted(p for p in CODE.rglob("*.py") if ".aws-sam" not in p.parts)


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def called_operations(path: Path) -> set[str]:
    """IAM actions of the DRS/EC2 calls in one module."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        if not (isinstance(receiver, ast.Name) and receiver.id in SERVICES):
            continue
        service, method = receiver.id, node.func.attr
        if method == "get_paginator":
            [arg] = node.args
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                f"{path}:{node.lineno}: paginator name is not a literal"
            )
            method = arg.value
        if method not in operations(service):
            continue  # not an API call: client attributes (meta, exceptions), or a dict named `ec2` (EC2 details)
        out.add(f"{service}:{operations(service)[method]}")
    return out


@cache
def code_actions() -> frozenset[str]:
    return frozenset().union(*(called_operations(p) for p in modules()))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def client_bindings(path: Path) -> list[str]:
    """Problems: DRS/EC2 clients bound to a name the call scan would miss."""
    tree = ast.parse(path.read_text())
    up = parents(tree)
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        service = node.args[0].value
        if name != "client" or service not in SERVICES:
            continue
        parent = up[node]
        if isinstance(parent, ast.Assign) and [ast.unparse(t) for t in parent.targets] == [service]:
            continue
        if isinstance(parent, ast.Lambda):
            keyword = up[parent]
            if isinstance(keyword, ast.keyword) and keyword.arg == f"{service}_for":
                continue  # a factory; what it makes must be bound to `drs` too (checked below)
        problems.append(f"{where(path, node)}: {ast.unparse(node)} is not bound to `{service}`")
    for node in ast.walk(tree):  # drs = drs_for(region)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {f"{s}_for" for s in SERVICES}
        ):
            parent = up[node]
            service = node.func.id.removesuffix("_for")
            if not (isinstance(parent, ast.Assign) and [ast.unparse(t) for t in parent.targets] == [service]):
                problems.append(f"{where(path, node)}: {ast.unparse(node)} is not bound to `{service}`")
    return problems


# ------------------------------------------------------------------ the role template


@cache
def role_template() -> dict[str, Any]:
    return load_template(ROLE_TEMPLATE)


def role() -> dict[str, Any]:
    [r] = [r for r in role_template()["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    return r["Properties"]


def statements() -> list[dict[str, Any]]:
    return [s for p in role()["Policies"] for s in p["PolicyDocument"]["Statement"]]


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted() -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for s in statements():
        assert s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s
        for action in listed(s["Action"]):
            out.setdefault(action, []).extend(listed(s["Resource"]))
    return out


# ------------------------------------------------------------------ tests


def test_the_scan_finds_the_calls_we_know_of():
    # a floor, so a broken scan cannot pass by finding nothing
    assert {"drs:DescribeSourceServers", "drs:TagResource", "ec2:DescribeInstances"} <= code_actions()


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(CODE)))
def test_every_drs_and_ec2_client_is_seen_by_the_scan(path):
    assert client_bindings(path) == []


def test_the_role_grants_exactly_the_actions_the_code_calls():
    needed = set(code_actions())
    for action in list(needed):
        needed |= DEPENDENT_ACTIONS.get(action, set())
    assert sorted(granted()) == sorted(needed)


def test_no_wildcard_action():
    for action in granted():
        assert "*" not in action and action.split(":")[0] in SERVICES, action


def test_resources_are_this_accounts_where_the_action_allows_it():
    for action, resources in granted().items():
        if action in THROUGH_DRS_ONLY:
            arn = {"Fn::Sub": f"arn:${{AWS::Partition}}:ec2:*:${{AWS::AccountId}}:{THROUGH_DRS_ONLY[action]}/*"}
            assert resources == [arn], action
        elif action in RESOURCE_TYPES:
            arn = {"Fn::Sub": f"arn:${{AWS::Partition}}:drs:*:${{AWS::AccountId}}:{RESOURCE_TYPES[action]}/*"}
            assert resources == [arn], action
        else:
            assert action in NO_RESOURCE_TYPE, f"{action}: classify it (Service Authorization Reference)"
            assert resources == ["*"], action


def test_ec2_actions_for_drs_jobs_hold_only_through_drs():
    for s in statements():
        through_drs = set(listed(s["Action"])) & set(THROUGH_DRS_ONLY)
        if through_drs:
            assert set(listed(s["Action"])) == through_drs, "keep through-DRS grants in their own statements"
            assert s["Condition"] == {"Bool": {"aws:ViaAWSService": "true"}}
        else:
            assert "Condition" not in s


def test_the_trust_requires_the_external_id_and_names_exactly_the_products_roles():
    [trust] = [s for s in role()["AssumeRolePolicyDocument"]["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert trust["Effect"] == "Allow" and trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${ProductAccountId}:root"}}
    assert trust["Condition"] == {
        "StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}, "aws:PrincipalArn": {"Ref": "TrustedRoleArns"}}
    }
    assert role_template()["Parameters"]["TrustedRoleArns"]["Type"] == "CommaDelimitedList"


def test_the_product_names_exactly_the_roles_that_assume_the_fleet_role():
    product = load_template(ROOT / "template.yaml")
    assuming = sorted(
        f"{lid}Role"
        for lid, res in product["Resources"].items()
        if res.get("Type") == "AWS::Serverless::Function"
        and any(
            st.get("Sid") == "AssumeTheFleetRoleInEachAccount"
            for policy in res["Properties"].get("Policies", [])
            if isinstance(policy, dict)
            for st in policy.get("Statement", [])
        )
    )
    [_, [*listed_roles]] = product["Outputs"]["FleetRoleTrustedRoleArns"]["Value"]["Fn::Join"]
    assert len(assuming) == 5
    assert (
        sorted(
            r["Fn::GetAtt"][0] if isinstance(r["Fn::GetAtt"], list) else r["Fn::GetAtt"].split(".")[0]
            for r in listed_roles
        )
        == assuming
    )


def test_the_external_id_is_a_required_secret_parameter():
    external = role_template()["Parameters"]["ExternalId"]
    assert external["NoEcho"] is True
    assert "Default" not in external  # no stack (or StackSet instance) without one
    assert external["MinLength"] >= 2  # STS refuses shorter ones


def test_the_role_name_is_the_products_default():
    product = load_template(ROOT / "template.yaml")["Parameters"]["CrossAccountRoleName"]
    params = role_template()["Parameters"]
    assert params["RoleName"]["Default"] == product["Default"] == "DrsFleetSyncRole"
    assert params["RoleName"]["AllowedPattern"] == product["AllowedPattern"]
    assert role()["RoleName"] == {"Ref": "RoleName"}


def test_sessions_fit_the_roles_maximum():
    aws_py = ast.parse((CODE / "shared" / "fleet_sync" / "core" / "aws.py").read_text())
    asked = [
        v.value
        for node in ast.walk(aws_py)
        if isinstance(node, ast.Dict)
        for k, v in zip(node.keys, node.values, strict=True)
        if isinstance(k, ast.Constant) and k.value == "DurationSeconds" and isinstance(v, ast.Constant)
    ]
    seconds = [a for a in asked if isinstance(a, int)]
    assert asked and seconds == asked and max(seconds) <= role()["MaxSessionDuration"]


def test_the_trust_allows_tagging_sessions_with_exactly_the_tags_the_code_passes():
    from fleet_sync.run.accounts import SESSION_TAG_EXECUTION, SESSION_TAG_SYNC

    [tagging] = [s for s in role()["AssumeRolePolicyDocument"]["Statement"] if s["Action"] == "sts:TagSession"]
    assert tagging["Effect"] == "Allow"
    assert tagging["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${ProductAccountId}:root"}}
    keys = tagging["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]
    assert sorted(keys) == sorted([SESSION_TAG_SYNC, SESSION_TAG_EXECUTION])
    assert tagging["Condition"]["StringEquals"] == {"aws:PrincipalArn": {"Ref": "TrustedRoleArns"}}
