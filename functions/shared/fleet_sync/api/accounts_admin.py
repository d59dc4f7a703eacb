"""Managing the accounts table: add, change and remove target accounts, add and remove a target's staging
accounts. Only the manage function (the API's write routes) calls this module (the syncs only read the table).

Rows (docs/design.md): one per account, key `accountId`; `kind` target or staging; `name`, `roleArn`,
`externalId`, `enabled`; targets also `stagingAccounts`, the ids of the staging accounts they trust. A staging
account has its own row (its role and ExternalId: the inventory sync scans it too) and may serve several
targets; it is removed with the last target that lists it.

The hub draws every account's ExternalId itself (`new_external_id`) when it registers the account, and again
when asked to rotate it; no caller chooses one, and nothing removes it.

Every change is one conditional write or one transaction (through `AccountsStore`), so two callers never
leave a target listing a staging account without a row, or a staging row that no target lists.
"""

from __future__ import annotations

import secrets
from typing import Any

from botocore.exceptions import ClientError

from ..core.errors import FleetSyncError
from ..core.observability import logger
from ..run.accounts import AccountRecord, AccountsStore

MAX_TRANSACTION = 100  # DynamoDB's limit of items per transaction


class AccountNotFound(FleetSyncError):
    """No target account with this id, or the target does not list this staging account."""


class AccountConflict(FleetSyncError):
    """The change contradicts the table: the account exists already, or as the other kind."""


def _reasons(exc: ClientError) -> list[str]:
    return [r.get("Code", "None") for r in exc.response.get("CancellationReasons") or []]


def _conditional(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _kind_is(kind: str) -> dict[str, Any]:
    return {
        "ConditionExpression": f"#kind = :{kind}",
        "ExpressionAttributeNames": {"#kind": "kind"},
        "ExpressionAttributeValues": {f":{kind}": kind},
    }


def _revision(store: AccountsStore, account_id: str) -> int | None:
    """A staging row's revision: every add to a target's list bumps it (None: no row, or never bumped)."""
    item = store.table.get_item(Key={"accountId": account_id}, ConsistentRead=True).get("Item") or {}
    return int(item["rev"]) if "rev" in item else None


def _delete_staging_row(store: AccountsStore, staging_id: str, rev: int | None) -> dict[str, Any]:
    """Delete a staging row only as it was when we found no other target listing it: had a target added
    it meanwhile, its revision moved and the transaction is cancelled (re-checked, not a stale decision)."""
    same = "attribute_not_exists(#rev)" if rev is None else "#rev = :rev"
    return store.change(
        "Delete",
        staging_id,
        ConditionExpression=f"(attribute_not_exists(accountId) OR #kind = :staging) AND {same}",
        ExpressionAttributeNames={"#kind": "kind", "#rev": "rev"},
        ExpressionAttributeValues={":staging": "staging", **({} if rev is None else {":rev": rev})},
    )


class _Raced(Exception):
    """A staging row changed between our reads and our transaction: read again and decide again."""


RACE_ATTEMPTS = 3
EXTERNAL_ID_BYTES = 32  # 43 characters of base64url: within what STS accepts ([\w+=,.@:/-], 2-1224)


def new_external_id() -> str:
    """A fresh ExternalId, from the secrets module (unguessable: it is what keeps another party from having
    the hub assume this account's role for them)."""
    return secrets.token_urlsafe(EXTERNAL_ID_BYTES)


# ------------------------------------------------------------------ targets


def list_targets(store: AccountsStore) -> list[AccountRecord]:
    return [a for a in store.all(include_disabled=True) if a.kind == "target"]


def get_target(store: AccountsStore, account_id: str) -> AccountRecord:
    record = store.get(account_id)
    if record is None or record.kind != "target":
        raise AccountNotFound(f"{account_id} is not a registered target account")
    return record


def _describe(store: AccountsStore, account_id: str) -> str:
    record = store.get(account_id)
    return f"registered as a {record.kind} account" if record else "registered"


def add_target(store: AccountsStore, fields: dict[str, Any]) -> AccountRecord:
    """A new target account (no staging accounts yet) with a new ExternalId. 409 when the id is registered
    already, as either kind."""
    record = AccountRecord.model_validate(
        {**fields, "kind": "target", "stagingAccounts": [], "externalId": new_external_id()}
    )
    try:
        store.put_new(record)
    except ClientError as exc:
        if not _conditional(exc):
            raise
        raise AccountConflict(f"account {record.accountId} is already {_describe(store, record.accountId)}") from None
    logger.info("target account added", extra={"accountId": record.accountId})
    return record


def update_account(
    store: AccountsStore, account_id: str, changes: dict[str, Any], *, kind: str = "target"
) -> AccountRecord:
    """Set the given fields; a field given as None is removed. The row must exist with this kind."""
    sets = {k: v for k, v in changes.items() if v is not None}
    removes = sorted(k for k, v in changes.items() if v is None)
    names = {f"#{k}": k for k in [*sets, *removes]}
    names["#kind"] = "kind"
    expression = ""
    if sets:
        expression += "SET " + ", ".join(f"#{k} = :{k}" for k in sorted(sets))
    if removes:
        expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
    values: dict[str, Any] = {f":{k}": v for k, v in sets.items()}
    values[":kind"] = kind
    try:
        record = store.update(account_id, expression.strip(), "#kind = :kind", names, values)
    except ClientError as exc:
        if not _conditional(exc):
            raise
        raise AccountNotFound(f"{account_id} is not a registered {kind} account") from None
    logger.info("account updated", extra={"accountId": account_id, "fields": sorted(changes)})
    return record


def rotate_external_id(store: AccountsStore, account_id: str, *, kind: str) -> AccountRecord:
    """Replace the account's ExternalId with a new one (the row must exist with this kind)."""
    try:
        record = store.update(
            account_id,
            "SET #externalId = :externalId",
            "#kind = :kind",
            {"#externalId": "externalId", "#kind": "kind"},
            {":externalId": new_external_id(), ":kind": kind},
        )
    except ClientError as exc:
        if not _conditional(exc):
            raise
        raise AccountNotFound(f"{account_id} is not a registered {kind} account") from None
    logger.info("external id rotated", extra={"accountId": account_id, "kind": kind})
    return record


def _other_targets(store: AccountsStore, account_id: str) -> list[AccountRecord]:
    return [
        t for t in store.all(include_disabled=True, consistent=True) if t.kind == "target" and t.accountId != account_id
    ]


def _transact(store: AccountsStore, changes: list[dict[str, Any]], conflict: str) -> None:
    """One transaction; a staging row that moved raises _Raced, any other failed condition AccountConflict."""
    try:
        store.transact(changes)
    except ClientError as exc:
        if not _conditional(exc):
            raise
        if any(r == "ConditionalCheckFailed" for r in _reasons(exc)[1:]):
            raise _Raced from None
        raise AccountConflict(conflict) from None


def remove_target(store: AccountsStore, account_id: str) -> dict[str, Any]:
    """Remove a target and the staging accounts no other target lists. Returns what was removed."""
    for _ in range(RACE_ATTEMPTS):
        try:
            return _remove_target(store, account_id)
        except _Raced:
            continue
    raise AccountConflict(f"the staging accounts of {account_id} kept changing while it was removed; try again")


def _remove_target(store: AccountsStore, account_id: str) -> dict[str, Any]:
    target = get_target(store, account_id)
    revs = {s: _revision(store, s) for s in target.stagingAccounts}  # read before the other targets' lists
    still_used = {s for t in _other_targets(store, account_id) for s in t.stagingAccounts}
    orphans = sorted(set(target.stagingAccounts) - still_used)
    first = MAX_TRANSACTION - 1
    changes = [store.change("Delete", account_id, **_kind_is("target"))]
    changes += [_delete_staging_row(store, staging, revs[staging]) for staging in orphans[:first]]
    _transact(store, changes, f"target {account_id} changed while it was being removed; try again")
    # A transaction holds at most 100 items: a target with more orphans loses the rest one by one after
    # (each only if no target added it meanwhile).
    for staging in orphans[first:]:
        try:
            store.transact([_delete_staging_row(store, staging, revs[staging])])
        except ClientError as exc:
            if not _conditional(exc):
                raise
    logger.info("target account removed", extra={"accountId": account_id, "stagingRemoved": orphans})
    return {"accountId": account_id, "removed": True, "stagingAccountsRemoved": orphans}


# ------------------------------------------------------------------ staging accounts of a target


def list_staging(store: AccountsStore, target_id: str) -> list[dict[str, Any]]:
    """The target's staging accounts, each with its row (`registered: false` when the row is missing)."""
    target = get_target(store, target_id)
    out = []
    for staging_id in target.stagingAccounts:
        record = store.get(staging_id)
        row = (record or AccountRecord(accountId=staging_id, kind="staging")).model_dump(
            exclude={"stagingAccounts", "externalId"}
        )
        out.append({**row, "registered": record is not None})
    return out


def _staging_upsert(store: AccountsStore, staging_id: str, given: dict[str, Any], external_id: str) -> dict[str, Any]:
    """A staging row as given; a new row (or one without) gets `external_id`, an existing row keeps its own."""
    sets = {"kind": "staging", **given}
    keep = ["#enabled = if_not_exists(#enabled, :true)", "#externalId = if_not_exists(#externalId, :externalId)"]
    return store.change(
        "Update",
        staging_id,
        UpdateExpression="SET "
        + ", ".join([*(f"#{k} = :{k}" for k in sorted(sets)), *keep])
        + " ADD #rev :one",  # a remover that decided from an older revision cannot delete the row
        ConditionExpression="attribute_not_exists(accountId) OR #kind = :kind",
        ExpressionAttributeNames={f"#{k}": k for k in [*sets, "enabled", "externalId", "rev"]},
        ExpressionAttributeValues={
            **{f":{k}": v for k, v in sets.items()},
            ":true": True,
            ":externalId": external_id,
            ":one": 1,
        },
    )


def add_staging(store: AccountsStore, target_id: str, fields: dict[str, Any]) -> tuple[AccountRecord, bool]:
    """Register a staging account (or reuse its row) and add it to the target's list, in one transaction;
    the row, and whether this call gave it its ExternalId (a new row: the caller gets it once).

    409 when the id is a target account, or the target lists it already; 404 when the target is unknown.
    Fields given (name, roleArn) replace the staging row's; fields left out keep their values.
    """
    external_id = new_external_id()
    staging_id = fields["accountId"]
    given = {k: v for k, v in fields.items() if k != "accountId" and v is not None}
    target_update = store.change(
        "Update",
        target_id,
        UpdateExpression="SET stagingAccounts = list_append(if_not_exists(stagingAccounts, :none), :new)",
        ConditionExpression="#kind = :target AND NOT contains(stagingAccounts, :id)",
        ExpressionAttributeNames={"#kind": "kind"},
        ExpressionAttributeValues={":target": "target", ":id": staging_id, ":new": [staging_id], ":none": []},
    )
    try:
        store.transact([_staging_upsert(store, staging_id, given, external_id), target_update])
    except ClientError as exc:
        if not _conditional(exc):
            raise
        reasons = _reasons(exc)
        if reasons and reasons[0] == "ConditionalCheckFailed":
            raise AccountConflict(f"account {staging_id} is {_describe(store, staging_id)}") from None
        target = get_target(store, target_id)  # 404 when the target is missing
        if staging_id in target.stagingAccounts:
            raise AccountConflict(f"{staging_id} is already a staging account of {target_id}") from None
        raise AccountConflict(f"target {target_id} changed while the staging account was added; try again") from None
    logger.info("staging account added", extra={"targetAccountId": target_id, "stagingAccountId": staging_id})
    record = store.get(staging_id, consistent=True)
    assert record is not None
    return record, record.externalId == external_id  # 256 random bits: equal only if this call wrote it


def remove_staging(store: AccountsStore, target_id: str, staging_id: str) -> dict[str, Any]:
    """Take a staging account off the target's list; its row goes too when no other target lists it."""
    for _ in range(RACE_ATTEMPTS):
        try:
            return _remove_staging(store, target_id, staging_id)
        except _Raced:
            continue
    raise AccountConflict(f"staging account {staging_id} kept changing while it was removed; try again")


def _remove_staging(store: AccountsStore, target_id: str, staging_id: str) -> dict[str, Any]:
    target = get_target(store, target_id)
    rev = _revision(store, staging_id)
    if staging_id not in target.stagingAccounts:
        raise AccountNotFound(f"{staging_id} is not a staging account of target {target_id}")
    index = target.stagingAccounts.index(staging_id)
    elsewhere = any(staging_id in t.stagingAccounts for t in _other_targets(store, target_id))
    changes = [
        store.change(
            "Update",
            target_id,
            UpdateExpression=f"REMOVE stagingAccounts[{index}]",
            ConditionExpression=f"#kind = :target AND stagingAccounts[{index}] = :id",
            ExpressionAttributeNames={"#kind": "kind"},
            ExpressionAttributeValues={":target": "target", ":id": staging_id},
        )
    ]
    if not elsewhere:
        changes.append(_delete_staging_row(store, staging_id, rev))
    _transact(store, changes, f"target {target_id} changed while the staging account was removed; try again")
    logger.info(
        "staging account removed",
        extra={"targetAccountId": target_id, "stagingAccountId": staging_id, "rowRemoved": not elsewhere},
    )
    return {
        "targetAccountId": target_id,
        "stagingAccountId": staging_id,
        "removed": True,
        "stagingRowRemoved": not elsewhere,
    }
