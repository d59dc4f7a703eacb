"""AWS::IAM::Role, ::Policy and ::ManagedPolicy; the AWS managed policies a role attaches are loaded."""

from __future__ import annotations

from typing import Any

from ..managed_policies import aws_managed_policy_document
from ..model import DeployContext, DeployError, Resource, generated_name, json_text, policy_text, tags_list


def _ensure_managed_policy(d: DeployContext, arn: str) -> None:
    """moto loads no AWS managed policies by default; load the ones the template attaches."""
    if not arn.startswith("arn:aws:iam::aws:policy/"):
        return
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[d.account]["aws"]
    if arn in backend.managed_policies:
        return
    name = arn.rsplit("/", 1)[-1]
    data = aws_managed_policy_document(name)
    if data is None:
        raise DeployError(f"unknown AWS managed policy {arn}")
    backend.managed_policies[arn] = AWSManagedPolicy.from_data(name, d.account, d.region, data)


def create_role(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    iam = d.client("iam")
    name = d.name_for(p, "RoleName", lid, 64)
    kw: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": json_text(p["AssumeRolePolicyDocument"]),
        "Path": p.get("Path", "/"),
    }
    for key in ("Description", "MaxSessionDuration", "PermissionsBoundary"):
        if key in p:
            kw[key] = int(p[key]) if key == "MaxSessionDuration" else p[key]
    if p.get("Tags"):
        kw["Tags"] = tags_list(p["Tags"])
    role = iam.create_role(**kw)["Role"]
    for policy in p.get("Policies") or []:
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=policy_text(policy["PolicyDocument"])
        )
    for arn in p.get("ManagedPolicyArns") or []:
        _ensure_managed_policy(d, arn)
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    return Resource(lid, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def create_policy(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    iam = d.client("iam")
    document = policy_text(p["PolicyDocument"])
    for role in p.get("Roles") or []:
        iam.put_role_policy(RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=document)
    for user in p.get("Users") or []:
        iam.put_user_policy(UserName=user, PolicyName=p["PolicyName"], PolicyDocument=document)
    for group in p.get("Groups") or []:
        iam.put_group_policy(GroupName=group, PolicyName=p["PolicyName"], PolicyDocument=document)
    return Resource(lid, "AWS::IAM::Policy", generated_name(d.t.stack_name[:5], lid[:4], 128))


def create_managed_policy(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    iam = d.client("iam")
    name = d.name_for(p, "ManagedPolicyName", lid, 128)
    kw: dict[str, Any] = {
        "PolicyName": name,
        "PolicyDocument": policy_text(p["PolicyDocument"]),
        "Path": p.get("Path", "/"),
    }
    if "Description" in p:
        kw["Description"] = p["Description"]
    arn = iam.create_policy(**kw)["Policy"]["Arn"]
    for role in p.get("Roles") or []:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return Resource(lid, "AWS::IAM::ManagedPolicy", arn, {"PolicyArn": arn})
