"""Terminating recovery instances and dropping their cache rows once DRS's job has terminated them.

The rows are found through an index (or by key) and grouped by (account, region); each account's role is
assumed once; DescribeRecoveryInstances (200 ids per call) tells which instances DRS still has, those are
terminated (TerminateRecoveryInstances, 200 ids per call). DRS terminates in an asynchronous job: the rows are
marked ``TERMINATING`` with the job's id and stay until the job has terminated their instance. The next call
(or the next sync of the pair, see :func:`job_outcomes`) reads the job: instances it terminated are reported
terminated and their rows deleted; instances it failed to terminate keep their rows, marked
``TERMINATE_FAILED`` with DRS's reason, and are reported failed. By execution, only drill instances are
terminated unless the caller names ``include_recoveries``. Running it twice is harmless.
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
from .drs import JobOutcome, job_outcomes
from .queries import InvalidRecoveryInstanceRequest
from .rows import TERMINATE_FAILED, TERMINATING
from .spec import SYNC
from .store import KEY, CacheStore, batch_get_rows

TERMINATE_BATCH = 200  # TerminateRecoveryInstances recoveryInstanceIDs maximum
REPORTED = ("terminated", "terminating", "alreadyTerminated", "conflicts", "failed", "notInCache", "recoveries")


@dataclass
class Selector:
    """Exactly one way of naming the instances: their execution, their ids (optionally with the pairs to
    look in), or their source servers."""

    source_execution_id: str | None
    recovery_instance_ids: list[str] | None
    source_server_ids: list[str] | None
    pairs: list[tuple[str, str]] | None
    include_recoveries: bool = False


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
            outcomes = job_outcomes(drs, [r for r in group if r.get("terminateStatus") == TERMINATING])
        except (ClientError, BotoCoreError, AccountNotRegistered) as exc:  # AccountDisabled too
            for row in group:
                self.report["failed"].append(_entry(row, code=aws.error_code(exc), message=aws.error_message(exc)))
            logger.warning("terminate: pair unreachable", extra={"accountId": account_id, "region": region})
            return
        gone = [by_id[i] for i in sorted(by_id) if i not in alive]
        for row in gone:  # terminated by an earlier job of ours, or by someone else
            job_id = row.get("terminateJobID")
            key = "terminated" if job_id else "alreadyTerminated"
            self.report[key].append(_entry(row, jobID=job_id) if job_id else _entry(row))
        self.store.delete_rows(r[KEY] for r in gone)
        to_terminate = [i for i in sorted(alive) if self._still_to_terminate(by_id[i], outcomes)]
        for batch in chunks(to_terminate, TERMINATE_BATCH):
            self._terminate(drs, account_id, region, [by_id[i] for i in batch])

    def _still_to_terminate(self, row: dict[str, Any], outcomes: dict[str, JobOutcome]) -> bool:
        """False for a row whose earlier job is still running or has just failed (reported here)."""
        if row.get("terminateStatus") != TERMINATING:
            return True
        outcome = outcomes.get(row["recoveryInstanceID"])
        if outcome is None:
            self.report["terminating"].append(_entry(row, jobID=row.get("terminateJobID")))
            return False
        error = outcome.error or "the terminate job did not terminate the instance"
        self.report["failed"].append(_entry(row, code="TerminateJobFailed", message=error, jobID=outcome.job_id))
        self.store.mark(row[KEY], terminateStatus=TERMINATE_FAILED, terminateJobID=outcome.job_id, terminateError=error)
        return False

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
        job_id = job.get("jobID")
        self.report["jobs"].append({"jobID": job_id, "accountId": account_id, "region": region})
        self.report["terminating"].extend(_entry(r, jobID=job_id) for r in rows)
        for row in rows:  # the rows stay until the job has terminated their instances
            self.store.mark(row[KEY], terminateStatus=TERMINATING, terminateJobID=job_id, terminateError=None)


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
    include_recoveries: bool,
) -> Selector:
    if isinstance(recovery_instance_ids, str) or isinstance(source_server_ids, str):
        raise InvalidRecoveryInstanceRequest("ids must be given as a list, not one string")
    selector = Selector(
        source_execution_id,
        sorted(set(recovery_instance_ids)) if recovery_instance_ids is not None else None,
        sorted(set(source_server_ids)) if source_server_ids is not None else None,
        pairs,
        include_recoveries,
    )
    given = [x for x in (selector.source_execution_id, selector.recovery_instance_ids, selector.source_server_ids) if x]
    if len(given) != 1:
        raise InvalidRecoveryInstanceRequest(
            "give exactly one of source_execution_id, recovery_instance_ids or source_server_ids (non-empty)"
        )
    return selector


def _new_report(
    selector: Selector, rows: list[dict[str, Any]], unprocessed: list[str], recoveries: list[dict[str, Any]]
) -> dict[str, Any]:
    if selector.recovery_instance_ids is not None:
        not_in_cache = sorted(set(selector.recovery_instance_ids) - {r["recoveryInstanceID"] for r in rows})
    else:
        not_in_cache = sorted(set(selector.source_server_ids or []) - {r[KEY] for r in rows} - set(unprocessed))
    report: dict[str, Any] = {
        "terminated": [],
        "terminating": [],
        "alreadyTerminated": [],
        "conflicts": [],
        "failed": [
            {"sourceServerID": sid, "code": "UnprocessedKeys", "message": "cache row could not be read"}
            for sid in unprocessed
        ],
        "notInCache": not_in_cache,
        "recoveries": [],
        "skippedRecoveries": [],
        "jobs": [],
    }
    key = "recoveries" if selector.include_recoveries else "skippedRecoveries"
    report[key] = sorted((_entry(r) for r in recoveries), key=lambda e: e["recoveryInstanceID"])
    return report


def terminate_recovery_instances(
    source_execution_id: str | None = None,
    recovery_instance_ids: Iterable[str] | None = None,
    *,
    source_server_ids: Iterable[str] | None = None,
    pairs: list[tuple[str, str]] | None = None,
    include_recoveries: bool = False,
    settings: Settings | None = None,
    ddb: Any = None,
) -> dict[str, Any]:
    """Terminate the recovery instances of one execution (or the named ones) and drop their cache rows.

    Exactly one selector: `source_execution_id` (index BySourceExecutionId), `recovery_instance_ids`
    (optionally narrowed by `pairs` of (accountId, region)), or `source_server_ids` (by key). Result:
    `{terminated, terminating, alreadyTerminated, conflicts, failed, notInCache, recoveries, skippedRecoveries,
    jobs, apiCalls, summary}`. `terminating` instances are in a DRS job that has not finished: their rows stay,
    marked, until a later call (or sync) sees the job terminate them (`terminated`, rows deleted) or fail
    (`failed`, rows kept). Instances in `conflicts` or `failed` keep their cache rows. By execution, instances
    of a recovery (not a drill) are left alone and listed in `skippedRecoveries` unless `include_recoveries`;
    with it they are terminated too and listed in `recoveries` (and in the audit log line). Running it twice is
    harmless.
    """
    selector = _selector(source_execution_id, recovery_instance_ids, source_server_ids, pairs, include_recoveries)
    settings = settings or get_settings()
    ddb = ddb or aws.dynamodb()
    store = CacheStore(ddb.Table(settings.recovery_instances_table))
    rows, unprocessed = _rows(store, ddb, settings, selector)
    recoveries = [r for r in rows if not r.get("isDrill")] if selector.source_execution_id else []
    if recoveries and not selector.include_recoveries:
        rows = [r for r in rows if r.get("isDrill")]
    report = _new_report(selector, rows, unprocessed, recoveries)
    terminator = Terminator(store, AccountsStore(ddb.Table(settings.accounts_table)), settings, report)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["accountId"], row["region"])].append(row)
    for (account_id, region), group in sorted(groups.items()):
        terminator.pair(account_id, region, group)
    for key in ("terminated", "terminating", "alreadyTerminated", "conflicts"):
        report[key] = sorted(report[key], key=lambda e: e["recoveryInstanceID"])
    report["apiCalls"] = terminator.counter.as_dict()
    report["summary"] = {k: len(report[k]) for k in (*REPORTED, "skippedRecoveries")}
    audit: dict[str, Any] = dict(report["summary"])
    if report["recoveries"]:  # real recoveries terminated on purpose: every one of them is named
        audit["recoveryInstancesOfRecoveries"] = [e["recoveryInstanceID"] for e in report["recoveries"]]
    logger.info("recovery instances terminated", extra=audit)
    return report
