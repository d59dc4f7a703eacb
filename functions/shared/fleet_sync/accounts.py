"""The accounts table: target and staging accounts, each with the role the product assumes there."""

from __future__ import annotations

from typing import Any, Literal

from boto3.dynamodb.conditions import Attr
from pydantic import BaseModel, ConfigDict, Field

from .aws import ApiCallCounter, assume_role_session
from .tables import key, scan_all

ACCOUNT_ID_PATTERN = r"^\d{12}$"


class AccountRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    accountId: str = Field(pattern=ACCOUNT_ID_PATTERN)
    kind: Literal["target", "staging"] = "target"
    name: str | None = None
    roleArn: str | None = None
    externalId: str | None = None
    stagingAccounts: list[str] = Field(default_factory=list)
    enabled: bool = True

    def role_arn(self, default_role_name: str) -> str:
        return self.roleArn or f"arn:aws:iam::{self.accountId}:role/{default_role_name}"


def list_accounts(table: Any, *, include_disabled: bool = False) -> list[AccountRecord]:
    """Every registered account (the table is small: one row per account)."""
    kwargs: dict[str, Any] = {} if include_disabled else {"FilterExpression": Attr("enabled").ne(False)}
    items = scan_all(table, **kwargs)
    return sorted((AccountRecord.model_validate(i) for i in items), key=lambda a: a.accountId)


def get_account(table: Any, account_id: str) -> AccountRecord | None:
    item = table.get_item(Key=key("ACCOUNTS_TABLE", account_id)).get("Item")
    return AccountRecord.model_validate(item) if item else None


def account_session(
    account: AccountRecord, *, default_role_name: str, sync: str, counter: ApiCallCounter | None = None
):
    """The one cross-account session of a work item, built from the account's own role and ExternalId."""
    return assume_role_session(
        account.role_arn(default_role_name),
        session_name=f"drs-fleet-sync-{sync}",
        external_id=account.externalId,
        counter=counter,
    )
