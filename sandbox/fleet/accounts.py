"""The estate's accounts outside DRS: each account's cross-account IAM role and the accounts-table rows.

moto's backends are imported where they are used: loading and checking a fleet needs none of them.
"""

from __future__ import annotations

import json
from typing import Any

from .schema import Fleet, FleetError

__all__ = ["accounts_rows", "check_accounts_table", "ensure_role", "role_exists", "role_trust_policy", "write_accounts"]

_ROLE_PERMISSIONS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["drs:*"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:CreateTags", "ec2:DeleteTags"], "Resource": "*"},
    ],
}


# The session tags the product's AssumeRole passes (as templates/cross-account-role.yaml trusts them).
SESSION_TAG_KEYS = ("drs-fleet-sync:sync", "drs-fleet-sync:execution")


def role_trust_policy(stack_account: str, external_id: str | None) -> dict[str, Any]:
    """The trust policy of the cross-account role: the stack account, with ``sts:ExternalId`` if set."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{stack_account}:root"},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    tagging = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{stack_account}:root"},
        "Action": "sts:TagSession",
        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": list(SESSION_TAG_KEYS)}},
    }
    return {"Version": "2012-10-17", "Statement": [statement, tagging]}


def ensure_role(account: str, role_name: str, stack_account: str, external_id: str | None) -> None:
    """Create (or update the trust of) the cross-account role in moto's IAM backend of ``account``."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["global"]
    trust = json.dumps(role_trust_policy(stack_account, external_id))
    if not role_exists(account, role_name):
        iam.create_role(
            role_name=role_name,
            assume_role_policy_document=trust,
            path="/",
            permissions_boundary=None,
            description="DRS Fleet Sync cross-account role (sandbox)",
            tags=[],
            max_session_duration=None,
        )
    else:
        iam.update_assume_role_policy(role_name, trust)
    iam.put_role_policy(role_name, "drs-fleet-sync", json.dumps(_ROLE_PERMISSIONS))


def role_exists(account: str, role_name: str) -> bool:
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    try:
        iam_backends[account]["global"].get_role(role_name)
    except NotFoundException:
        return False
    return True


def accounts_rows(fleet: Fleet, role_name: str) -> list[dict[str, Any]]:
    """The accounts-table items for the registered accounts of ``fleet`` (plain JSON types)."""
    rows = []
    for a in fleet.accounts:
        if not a.registered:
            continue
        row: dict[str, Any] = {
            "accountId": a.account_id,
            "name": a.display_name,
            "kind": a.kind,
            "roleArn": f"arn:aws:iam::{a.account_id}:role/{role_name}",
            "enabled": a.enabled,
        }
        if a.external_id:
            row["externalId"] = a.external_id
        if a.kind == "target":
            row["stagingAccounts"] = list(a.staging_accounts)
        if a.allowed_drs_accounts:
            row["allowedDrsAccounts"] = list(a.allowed_drs_accounts)
        rows.append(row)
    return rows


def check_accounts_table(table: str, stack_account: str, stack_region: str) -> Any:
    """moto's DynamoDB backend holding ``table``; :class:`FleetError` when the table does not exist."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[stack_account][stack_region]
    if table not in backend.tables:
        raise FleetError(f"accounts table {table!r} does not exist in {stack_account}/{stack_region}")
    return backend


def write_accounts(fleet: Fleet, table: str, role_name: str, stack_account: str, stack_region: str) -> None:
    from boto3.dynamodb.types import TypeSerializer

    backend = check_accounts_table(table, stack_account, stack_region)
    serializer = TypeSerializer()
    for row in accounts_rows(fleet, role_name):
        backend.put_item(table, {k: serializer.serialize(v) for k, v in row.items()})
