"""The estate's accounts outside DRS: each account's cross-account IAM role and the accounts-table rows.

moto's backends are imported where they are used: loading and checking a fleet needs none of them.
"""

from __future__ import annotations

import json
import random
from functools import partial
from pathlib import Path
from typing import Any

from .schema import AccountSpec, Fleet, FleetError

__all__ = [
    "ROLE_TEMPLATE",
    "accounts_rows",
    "check_accounts_table",
    "ensure_event_forwarding",
    "ensure_role",
    "external_id_of",
    "role_exists",
    "role_parameters",
    "write_accounts",
]

ROLE_TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "cross-account-role.yaml"
FORWARDING_TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "event-forwarding.yaml"
ROLE_POLICY_NAME = "drs-fleet-sync"  # the template's inline policy; a fleet's rolePolicy replaces it


def external_id_of(fleet_seed: int, account: AccountSpec) -> str:
    """The account's ExternalId: the fleet's, else one drawn per account from the fleet's seed (as the hub
    draws one per account at registration; the sandbox seeds both the role and the row with it)."""
    if account.external_id:
        return account.external_id
    rng = random.Random(f"{fleet_seed}:external-id:{account.account_id}")
    return "sbx-" + "".join(rng.choice(_EXTERNAL_ID_ALPHABET) for _ in range(32))


_EXTERNAL_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def role_parameters(
    role_name: str, stack_account: str, external_id: str, trusted_role_arns: list[str] | None
) -> dict[str, str]:
    """The shipped role template's parameters, as the hub's operator sets them (docs/operations.md)."""
    trusted = trusted_role_arns or [f"arn:aws:iam::{stack_account}:root"]  # no hub stack: its account only
    return {
        "RoleName": role_name,
        "ProductAccountId": stack_account,
        "TrustedRoleArns": ",".join(trusted),
        "ExternalId": external_id,
    }


def ensure_role(
    account: str,
    role_name: str,
    stack_account: str,
    external_id: str,
    *,
    trusted_role_arns: list[str] | None = None,
    role_policy: dict[str, Any] | None = None,
) -> None:
    """Deploy templates/cross-account-role.yaml into ``account`` (moto IAM), as each fleet account does; a
    role already there is replaced. ``role_policy`` (a fleet's override) replaces the role's permissions."""
    from moto.iam.models import iam_backends

    from ..stack import deploy, translate

    iam = iam_backends[account]["global"]
    if role_exists(account, role_name):
        for name in list(iam.list_role_policies(role_name)):
            iam.delete_role_policy(role_name, name)
        iam.delete_role(role_name)
    parameters = role_parameters(role_name, stack_account, external_id, trusted_role_arns)
    translated = translate(ROLE_TEMPLATE, parameters, stack_name="drs-fleet-sync-role", account=account)
    deploy(translated, lambda service: _client_in(account, service))
    if role_policy is not None:
        iam.put_role_policy(role_name, ROLE_POLICY_NAME, json.dumps(role_policy))


def _client_in(account: str, service: str) -> Any:
    import boto3

    from ..runtime import account_keys

    key, secret = account_keys(account, "us-east-1")
    return boto3.client(service, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)


def ensure_event_forwarding(account: str, regions: list[str], hub_bus_arn: str) -> None:
    """Deploy templates/event-forwarding.yaml into ``account`` in each of ``regions`` (moto), as the StackSet
    does; a region that has the forwarding rule already is left as it is."""
    import boto3
    from moto.events.models import events_backends

    from ..runtime import account_keys
    from ..stack import deploy, translate

    key, secret = account_keys(account, "us-east-1")  # one key of the account (IAM allows two per user)
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret)
    for region in regions:
        default = events_backends[account][region].event_buses.get("default")
        if default is not None and any(r.name.startswith("drs-fleet-sync-events-") for r in default.rules.values()):
            continue
        translated = translate(
            FORWARDING_TEMPLATE,
            {"HubEventBusArn": hub_bus_arn},
            stack_name="drs-fleet-sync-events",
            account=account,
            region=region,
        )
        deploy(translated, partial(_session_client, session, region))


def _session_client(session: Any, region: str, service: str) -> Any:
    return session.client(service, region_name=region)


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
        row["externalId"] = external_id_of(fleet.seed, a)
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
