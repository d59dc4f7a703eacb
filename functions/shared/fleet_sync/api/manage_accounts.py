"""The manage API's accounts routes: targets, their staging accounts, and their ExternalIds (a router the
manage resolver includes; fleet_sync.api.manage).

An account's ExternalId is in the answer that created it alone (registration, rotation); no GET shows it.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from ..core import aws
from ..core.settings import Settings, get_settings
from ..run.accounts import AccountRecord, AccountsStore
from . import accounts_admin
from .account_rows import with_rows_removed
from .common import ApiValidationError, json_response, responses
from .models import AccountId, AccountUpdate, NewStagingAccount, NewTargetAccount, check_role_account

router = Router()  # type: ignore[no-untyped-call]


def _settings() -> Settings:
    return get_settings()


def _account_view(record: AccountRecord, settings: Settings, *, external_id: bool = False) -> dict[str, Any]:
    """An account as the API shows it. Its ExternalId only in the answer that created it (registration or
    rotation): a GET never shows it, so a caller who may read the API cannot assume the account's role
    for someone else (docs/security.md)."""
    view = record.model_dump(exclude=None if external_id else {"externalId"})
    if record.kind != "target":
        view.pop("stagingAccounts", None)
    view["effectiveRoleArn"] = record.role_arn(settings.cross_account_role_name)
    return view


def _check_role(role_arn: str | None, settings: Settings) -> None:
    """The functions' policies allow sts:AssumeRole on `role/{CrossAccountRoleName}` only (no path)."""
    if role_arn is None:
        return
    name = settings.cross_account_role_name
    if role_arn.split(":", 5)[5] != f"role/{name}":
        raise ApiValidationError(
            "roleArn",
            f"the stack may assume only roles named {name} (template parameter CrossAccountRoleName)",
            "body",
        )


def _check_allowed_drs_accounts(table: AccountsStore, account_id: str, allowed: list[str] | None) -> None:
    """The DRS accounts an account lets read its EC2 are registered accounts other than itself: a typo or an
    account not yet registered would otherwise be trusted the day someone registers that id."""
    if not allowed:
        return
    if account_id in allowed:
        reason = f"{account_id} is the account itself, which always reads its own EC2: list other accounts only"
        raise ApiValidationError("allowedDrsAccounts", reason, "body")
    registered = {a.accountId for a in table.all(include_disabled=True, consistent=True)}
    unknown = [a for a in allowed if a not in registered]
    if unknown:
        reason = f"not registered accounts: {', '.join(unknown[:10])}; register them first"
        raise ApiValidationError("allowedDrsAccounts", reason, "body")


def accounts_store(settings: Settings) -> AccountsStore:
    return AccountsStore(aws.dynamodb().Table(settings.accounts_table))


def _check_lists(table: AccountsStore, target_id: str, staging_id: str) -> None:
    if staging_id not in accounts_admin.get_target(table, target_id).stagingAccounts:
        raise accounts_admin.AccountNotFound(f"{staging_id} is not a staging account of target {target_id}")


ROTATED = "the account with its new ExternalId (the only time it is returned); its role now needs that one"


# ------------------------------------------------------------------ accounts: targets

TargetId = Annotated[AccountId, Path(description="the target account")]
StagingId = Annotated[AccountId, Path(description="the staging account")]


@router.get(
    "/accounts/targets",
    operation_id="listTargetAccounts",
    tags=["accounts"],
    summary="Every target account with its role and staging accounts (never its ExternalId)",
    responses=responses(200, "the target accounts"),
)
def get_targets() -> dict[str, Any]:
    settings = _settings()
    targets = [_account_view(t, settings) for t in accounts_admin.list_targets(accounts_store(settings))]
    return {"targets": targets, "count": len(targets)}


@router.post(
    "/accounts/targets",
    operation_id="addTargetAccount",
    tags=["accounts"],
    summary="Register a target account; the answer holds its new ExternalId, the only time it is returned",
    status_code=201,
    responses=responses(201, "the account as stored", 400, 409),
)
def post_target(account: Annotated[NewTargetAccount, Body()]) -> Response[dict[str, Any]]:
    settings = _settings()
    _check_role(account.roleArn, settings)
    table = accounts_store(settings)
    _check_allowed_drs_accounts(table, account.accountId, account.allowedDrsAccounts)
    record = accounts_admin.add_target(table, account.model_dump(exclude_none=True))
    view = _account_view(record, settings, external_id=True)
    return json_response(201, view, headers={"Location": f"/accounts/targets/{record.accountId}"})


@router.get(
    "/accounts/targets/<accountId>",
    operation_id="getTargetAccount",
    tags=["accounts"],
    summary="One target account",
    responses=responses(200, "the account as stored", 400, 404),
)
def get_target(accountId: TargetId) -> dict[str, Any]:
    settings = _settings()
    return _account_view(accounts_admin.get_target(accounts_store(settings), accountId), settings)


@router.patch(
    "/accounts/targets/<accountId>",
    operation_id="updateTargetAccount",
    tags=["accounts"],
    summary="Change a target's name, role ARN, enabled flag or allowedDrsAccounts (null removes name, role, "
    "allowedDrsAccounts)",
    responses=responses(200, "the account as stored", 400, 404),
)
def patch_target(accountId: TargetId, changes: Annotated[AccountUpdate, Body()]) -> dict[str, Any]:
    settings = _settings()
    _check_role(changes.roleArn, settings)
    try:
        check_role_account(changes.roleArn, accountId)
    except ValueError as exc:
        raise ApiValidationError("roleArn", str(exc), "body") from None
    table = accounts_store(settings)
    _check_allowed_drs_accounts(table, accountId, changes.allowedDrsAccounts)
    record = accounts_admin.update_account(table, accountId, changes.model_dump(exclude_unset=True), kind="target")
    return _account_view(record, settings)


@router.post(
    "/accounts/targets/<accountId>/external-id",
    operation_id="rotateTargetExternalId",
    tags=["accounts"],
    summary="Give a target account a new ExternalId, generated by the hub; deploy its role stack with it",
    responses=responses(200, ROTATED, 400, 404),
)
def post_target_external_id(accountId: TargetId) -> dict[str, Any]:
    settings = _settings()
    record = accounts_admin.rotate_external_id(accounts_store(settings), accountId, kind="target")
    return _account_view(record, settings, external_id=True)


@router.delete(
    "/accounts/targets/<accountId>",
    operation_id="removeTargetAccount",
    tags=["accounts"],
    summary="Remove a target account, and its staging accounts that no other target lists, with their inventory, "
    "region-status and recovery-instance cache rows",
    responses=responses(200, "what was removed", 400, 404, 409),
)
def delete_target(accountId: TargetId) -> dict[str, Any]:
    settings = _settings()
    return with_rows_removed(accounts_admin.remove_target(accounts_store(settings), accountId), settings)


# ------------------------------------------------------------------ accounts: staging accounts of a target


@router.get(
    "/accounts/targets/<accountId>/staging-accounts",
    operation_id="listStagingAccounts",
    tags=["accounts"],
    summary="The staging accounts a target trusts, with their roles (never their ExternalIds)",
    responses=responses(200, "the staging accounts", 400, 404),
)
def get_staging(accountId: TargetId) -> dict[str, Any]:
    settings = _settings()
    rows = accounts_admin.list_staging(accounts_store(settings), accountId)
    for row in rows:
        row["effectiveRoleArn"] = AccountRecord.model_validate(row).role_arn(settings.cross_account_role_name)
    return {"targetAccountId": accountId, "stagingAccounts": rows, "count": len(rows)}


@router.post(
    "/accounts/targets/<accountId>/staging-accounts",
    operation_id="addStagingAccount",
    tags=["accounts"],
    summary="Add a staging account to a target (registers the staging account, or reuses its row); a new row's "
    "ExternalId is in the answer, the only time it is returned",
    status_code=201,
    responses=responses(201, "the staging account as stored", 400, 404, 409),
)
def post_staging(accountId: TargetId, account: Annotated[NewStagingAccount, Body()]) -> Response[dict[str, Any]]:
    settings = _settings()
    if account.accountId == accountId:
        raise ApiValidationError("accountId", "a target account cannot be its own staging account", "body")
    _check_role(account.roleArn, settings)
    table = accounts_store(settings)
    _check_allowed_drs_accounts(table, account.accountId, account.allowedDrsAccounts)
    record, new = accounts_admin.add_staging(table, accountId, account.model_dump(exclude_none=True))
    view = _account_view(record, settings, external_id=new)
    location = f"/accounts/targets/{accountId}/staging-accounts/{record.accountId}"
    return json_response(201, {**view, "targetAccountId": accountId}, headers={"Location": location})


@router.patch(
    "/accounts/targets/<accountId>/staging-accounts/<stagingAccountId>",
    operation_id="updateStagingAccount",
    tags=["accounts"],
    summary="Change a staging account's name, role ARN, enabled flag or allowedDrsAccounts",
    responses=responses(200, "the staging account as stored", 400, 404),
)
def patch_staging(
    accountId: TargetId, stagingAccountId: StagingId, changes: Annotated[AccountUpdate, Body()]
) -> dict[str, Any]:
    settings = _settings()
    _check_role(changes.roleArn, settings)
    try:
        check_role_account(changes.roleArn, stagingAccountId)
    except ValueError as exc:
        raise ApiValidationError("roleArn", str(exc), "body") from None
    table = accounts_store(settings)
    _check_lists(table, accountId, stagingAccountId)
    _check_allowed_drs_accounts(table, stagingAccountId, changes.allowedDrsAccounts)
    record = accounts_admin.update_account(
        table, stagingAccountId, changes.model_dump(exclude_unset=True), kind="staging"
    )
    return _account_view(record, settings)


@router.post(
    "/accounts/targets/<accountId>/staging-accounts/<stagingAccountId>/external-id",
    operation_id="rotateStagingExternalId",
    tags=["accounts"],
    summary="Give a staging account of this target a new ExternalId, generated by the hub; deploy its role "
    "stack with it",
    responses=responses(200, ROTATED, 400, 404),
)
def post_staging_external_id(accountId: TargetId, stagingAccountId: StagingId) -> dict[str, Any]:
    settings = _settings()
    table = accounts_store(settings)
    _check_lists(table, accountId, stagingAccountId)
    record = accounts_admin.rotate_external_id(table, stagingAccountId, kind="staging")
    return _account_view(record, settings, external_id=True)


@router.delete(
    "/accounts/targets/<accountId>/staging-accounts/<stagingAccountId>",
    operation_id="removeStagingAccount",
    tags=["accounts"],
    summary="Take a staging account off a target (its row and its inventory, region-status and cache rows go when "
    "no other target lists it)",
    responses=responses(200, "what was removed", 400, 404, 409),
)
def delete_staging(accountId: TargetId, stagingAccountId: StagingId) -> dict[str, Any]:
    settings = _settings()
    removed = accounts_admin.remove_staging(accounts_store(settings), accountId, stagingAccountId)
    return with_rows_removed(removed, settings)
