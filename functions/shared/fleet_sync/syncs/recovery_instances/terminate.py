"""Terminating recovery instances and dropping their cache rows.

The rows are found through an index (or by key) and grouped by (account, region); each account's role is
assumed once; DescribeRecoveryInstances (200 ids per call) tells which instances DRS still has, those are
terminated (TerminateRecoveryInstances, 200 ids per call), and cache rows are deleted only after DRS accepted
their termination. Running it twice is harmless.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ...core import aws
from ...core.errors import AccountNotRegistered
from ...core.observability import logger
from ...core.reads import chunks
from ...core.settings import Settings, get_settings
from ...run.accounts import AccountsStore, account_credentials
from ...run.sync_state import SyncStateStore
from .queries import InvalidRecoveryInstanceRequest
from .spec import SYNC
from .store import KEY, CacheStore, batch_get_rows

TERMINATE_BATCH = 200  # TerminateRecoveryInstances recoveryInstanceIDs maximum
REPORTED = ("terminated", "alreadyTerminated", "conflicts", "failed", "notInCache")


@dataclass
class Selector:
    """Exactly one way of naming the instances: their execution, their ids (optionally with the pairs to
    look in), or their source servers."""

    source_execution_id: str | None
    recovery_instance_ids: list[str] | None
    source_server_ids: list[str] | None
    pairs: list[tuple[str, str]] | None


def _entry(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "recoveryInstanceID": row["recoveryInstanceID"],
        "sourceServerID": row[KEY],
        "accountId": row["accountId"],
        "region": row["region"],
        **extra,
    }


def _rows(
    store: CacheStore, ddb: Any, settings: Settings, selector: Selector
) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows, source server ids DynamoDB left unprocessed)."""
    if selector.source_execution_id:
        return store.rows_of_execution(selector.source_execution_id), []
    if selector.source_server_ids:
        found, unprocessed = batch_get_rows(ddb, settings.recovery_instances_table, selector.source_server_ids)
        return list(found.values()), unprocessed
    wanted = set(selector.recovery_instance_ids or [])
    pairs = selector.pairs
    if pairs is None:
        # No index on recoveryInstanceID: the pairs the last full sync scanned are each read through
        # ByAccountRegion (one Query per pair), filtered here.
        status = SyncStateStore(ddb.Table(settings.sync_state_table)).sync_status(SYNC) or {}
        pairs = sorted({(w["accountId"], w["region"]) for w in (status.get("summary") or {}).get("workItems", [])})
    rows = [r for a, region in pairs for r in store.pair_rows(a, region).values()]
    return [r for r in rows if r.get("recoveryInstanceID") in wanted], []


@dataclass
class Terminator:
    """Terminates the instances of each (account, region), assuming each account's role once."""

    store: CacheStore
    accounts: AccountsStore
    settings: Settings
    report: dict[str, Any]
    counter: aws.ApiCallCounter = field(default_factory=aws.ApiCallCounter)
    _credentials: dict[str, aws.Credentials] = field(default_factory=dict)

    def pair(self, account_id: str, region: str, group: list[dict[str, Any]]) -> None:
        by_id = {r["recoveryInstanceID"]: r for r in group}
        try:
            drs = aws.client("drs", credentials=self._credentials_in(account_id), region=region, counter=self.counter)
            alive = {
                ri["recoveryInstanceID"] for batch in chunks(sorted(by_id), TERMINATE_BATCH) for ri in _live(drs, batch)
            }
        except (ClientError, BotoCoreError, AccountNotRegistered) as exc:  # AccountDisabled too
            for row in group:
                self.report["failed"].append(_entry(row, code=aws.error_code(exc), message=aws.error_message(exc)))
            logger.warning("terminate: pair unreachable", extra={"accountId": account_id, "region": region})
            return
        gone = [by_id[i] for i in sorted(by_id) if i not in alive]
        self.report["alreadyTerminated"].extend(_entry(r) for r in gone)
        self.store.delete_rows(r[KEY] for r in gone)
        for batch in chunks(sorted(alive), TERMINATE_BATCH):
            self._terminate(drs, account_id, region, [by_id[i] for i in batch])

    def _credentials_in(self, account_id: str) -> aws.Credentials:
        if account_id not in self._credentials:
            record = self.accounts.get(account_id)
            if record is None:
                raise AccountNotRegistered(f"account {account_id} is not in the accounts table")
            self._credentials[account_id] = account_credentials(
                record, default_role_name=self.settings.cross_account_role_name, sync="terminate", counter=self.counter
            )
        return self._credentials[account_id]

    def _terminate(self, drs: Any, account_id: str, region: str, rows: list[dict[str, Any]]) -> None:
        try:
            job = drs.terminate_recovery_instances(recoveryInstanceIDs=[r["recoveryInstanceID"] for r in rows])["job"]
        except ClientError as exc:
            code = aws.error_code(exc)
            target = "conflicts" if code == "ConflictException" else "failed"
            self.report[target].extend(_entry(r, code=code, message=aws.error_message(exc)) for r in rows)
            return
        self.report["jobs"].append({"jobID": job.get("jobID"), "accountId": account_id, "region": region})
        self.report["terminated"].extend(_entry(r, jobID=job.get("jobID")) for r in rows)
        self.store.delete_rows(r[KEY] for r in rows)  # only after DRS accepted the termination


def _live(drs: Any, ids: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in drs.get_paginator("describe_recovery_instances").paginate(filters={"recoveryInstanceIDs": ids}):
        found.extend(page.get("items", []))
    return found


def _selector(
    source_execution_id: str | None,
    recovery_instance_ids: Iterable[str] | None,
    source_server_ids: Iterable[str] | None,
    pairs: list[tuple[str, str]] | None,
) -> Selector:
    if isinstance(recovery_instance_ids, str) or isinstance(source_server_ids, str):
        raise InvalidRecoveryInstanceRequest("ids must be given as a list, not one string")
    selector = Selector(
        source_execution_id,
        sorted(set(recovery_instance_ids)) if recovery_instance_ids is not None else None,
        sorted(set(source_server_ids)) if source_server_ids is not None else None,
        pairs,
    )
    given = [x for x in (selector.source_execution_id, selector.recovery_instance_ids, selector.source_server_ids) if x]
    if len(given) != 1:
        raise InvalidRecoveryInstanceRequest(
            "give exactly one of source_execution_id, recovery_instance_ids or source_server_ids (non-empty)"
        )
    return selector


def terminate_recovery_instances(
    source_execution_id: str | None = None,
    recovery_instance_ids: Iterable[str] | None = None,
    *,
    source_server_ids: Iterable[str] | None = None,
    pairs: list[tuple[str, str]] | None = None,
    settings: Settings | None = None,
    ddb: Any = None,
) -> dict[str, Any]:
    """Terminate the recovery instances of one execution (or the named ones) and drop their cache rows.

    Exactly one selector: `source_execution_id` (index BySourceExecutionId), `recovery_instance_ids`
    (optionally narrowed by `pairs` of (accountId, region)), or `source_server_ids` (by key). Result:
    `{terminated, alreadyTerminated, conflicts, failed, notInCache, jobs, apiCalls, summary}`; instances in
    `conflicts` or `failed` keep their cache rows. Running it twice is harmless: rows of terminated instances are
    gone, and instances DRS no longer has are reported as already terminated and their rows removed.
    """
    selector = _selector(source_execution_id, recovery_instance_ids, source_server_ids, pairs)
    settings = settings or get_settings()
    ddb = ddb or aws.dynamodb()
    store = CacheStore(ddb.Table(settings.recovery_instances_table))
    rows, unprocessed = _rows(store, ddb, settings, selector)
    if selector.recovery_instance_ids is not None:
        not_in_cache = sorted(set(selector.recovery_instance_ids) - {r["recoveryInstanceID"] for r in rows})
    else:
        not_in_cache = sorted(set(selector.source_server_ids or []) - {r[KEY] for r in rows} - set(unprocessed))
    report: dict[str, Any] = {
        "terminated": [],
        "alreadyTerminated": [],
        "conflicts": [],
        "failed": [
            {"sourceServerID": sid, "code": "UnprocessedKeys", "message": "cache row could not be read"}
            for sid in unprocessed
        ],
        "notInCache": not_in_cache,
        "jobs": [],
    }
    terminator = Terminator(store, AccountsStore(ddb.Table(settings.accounts_table)), settings, report)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["accountId"], row["region"])].append(row)
    for (account_id, region), group in sorted(groups.items()):
        terminator.pair(account_id, region, group)
    for key in ("terminated", "alreadyTerminated", "conflicts"):
        report[key] = sorted(report[key], key=lambda e: e["recoveryInstanceID"])
    report["apiCalls"] = terminator.counter.as_dict()
    report["summary"] = {k: len(report[k]) for k in REPORTED}
    logger.info("recovery instances terminated", extra=report["summary"])
    return report
