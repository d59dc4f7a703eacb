"""The accounts table: target and staging accounts, each with the role the product assumes there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from boto3.dynamodb.conditions import Attr
from pydantic import BaseModel, ConfigDict, Field

from ..core.aws import ApiCallCounter, Credentials, assume_role, partition
from ..core.errors import AccountDisabled, AccountWithoutExternalId, OriginNotTrusted
from ..core.ids import ACCOUNT_ID
from ..core.observability import logger
from ..core.tables import ACCOUNTS, scan_all

# The session tags of every AssumeRole into an account (the cross-account role's trust allows exactly these).
SESSION_TAG_SYNC = "drs-fleet-sync:sync"
SESSION_TAG_EXECUTION = "drs-fleet-sync:execution"


class AccountRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    accountId: str = Field(pattern=ACCOUNT_ID)
    kind: Literal["target", "staging"] = "target"
    name: str | None = None
    roleArn: str | None = None
    externalId: str | None = None
    stagingAccounts: list[str] = Field(default_factory=list)
    enabled: bool = True
    # The DRS accounts whose source servers may name this account as their EC2 origin (and so have the hub
    # read this account's instances and tags for them). None but itself by default.
    allowedDrsAccounts: list[str] = Field(default_factory=list)

    def role_arn(self, default_role_name: str) -> str:
        return self.roleArn or f"arn:{partition()}:iam::{self.accountId}:role/{default_role_name}"


@dataclass
class AccountsStore:
    """Reads of the accounts table, and the conditional writes the accounts admin builds its changes from."""

    table: Any

    def all(self, *, include_disabled: bool = False, consistent: bool = False) -> list[AccountRecord]:
        """Every registered account (the table is small: one row per account); `consistent` sees every
        write that finished before the call."""
        kwargs: dict[str, Any] = {} if include_disabled else {"FilterExpression": Attr("enabled").ne(False)}
        if consistent:
            kwargs["ConsistentRead"] = True
        items = scan_all(self.table, **kwargs)
        return sorted((AccountRecord.model_validate(i) for i in items), key=lambda a: a.accountId)

    def get(self, account_id: str, *, consistent: bool = False) -> AccountRecord | None:
        item = self.table.get_item(Key=ACCOUNTS.key(account_id), ConsistentRead=consistent).get("Item")
        return AccountRecord.model_validate(item) if item else None

    def put_new(self, record: AccountRecord) -> None:
        """Write a new row; fails with ConditionalCheckFailed when the id is registered already."""
        item = {k: v for k, v in record.model_dump().items() if v is not None}
        if not record.allowedDrsAccounts:
            item.pop("allowedDrsAccounts")  # the default: only the account itself reads its EC2
        self.table.put_item(Item=item, ConditionExpression=f"attribute_not_exists({ACCOUNTS.partition_key})")

    def update(
        self, account_id: str, expression: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> AccountRecord:
        """One conditional UpdateItem; the row as it is after it."""
        updated = self.table.update_item(
            Key=ACCOUNTS.key(account_id),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return AccountRecord.model_validate(updated)

    def change(self, action: str, account_id: str, **fields: Any) -> dict[str, Any]:
        """One action (Update or Delete) of a transaction on one row."""
        return {action: {"TableName": self.table.name, "Key": ACCOUNTS.key(account_id), **fields}}

    def transact(self, changes: list[dict[str, Any]]) -> None:
        """Changes built by `change`, all or none (at most 100)."""
        self.table.meta.client.transact_write_items(TransactItems=changes)


def trusted_origin(record: AccountRecord | None, origin_id: str, drs_account_id: str) -> AccountRecord:
    """The origin account a DRS account's servers name, if it lets that DRS account read its EC2.

    A server's `originAccountID` is whatever the replicating agent reported: trusting it would let any
    registered account have the hub read another account's instances (a confused deputy).
    """
    if origin_id == drs_account_id and record is not None:
        return record
    if record is None:
        raise OriginNotTrusted(f"origin account {origin_id} is not registered")
    if not record.enabled:
        raise OriginNotTrusted(f"origin account {origin_id} is disabled")
    if drs_account_id not in record.allowedDrsAccounts:
        raise OriginNotTrusted(f"origin account {origin_id} does not list {drs_account_id} in allowedDrsAccounts")
    return record


def account_credentials(
    account: AccountRecord,
    *,
    default_role_name: str,
    sync: str,
    counter: ApiCallCounter | None = None,
    execution: str | None = None,
) -> Credentials:
    """The one set of credentials of a work item in an account, from the account's own role and ExternalId.
    A disabled account is never assumed (AccountDisabled), whichever run, refresh or terminate asks, nor an
    account whose row lacks its ExternalId (AccountWithoutExternalId).

    The session is tagged with the sync (or API action) and the execution (a run's name; for an API request,
    its request id), so the account's CloudTrail names which run made each call."""
    if not account.enabled:
        raise AccountDisabled(f"account {account.accountId} is disabled in the accounts table")
    if not account.externalId:
        raise AccountWithoutExternalId(
            f"account {account.accountId} has no ExternalId in the accounts table: rotate it through the API "
            "(POST .../external-id) and deploy the account's role with the one returned"
        )
    tags = {SESSION_TAG_SYNC: sync}
    execution = execution or logger.get_correlation_id()
    if execution:
        tags[SESSION_TAG_EXECUTION] = execution
    return assume_role(
        account.role_arn(default_role_name),
        session_name=f"drs-fleet-sync-{sync}",
        external_id=account.externalId,
        tags=tags,
        counter=counter,
    )
