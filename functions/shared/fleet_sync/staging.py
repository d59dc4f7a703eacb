"""Staging-account auto-extend: every staging-account source server gets extended into the target
accounts that trust the staging account.

Data-management side only: this module calls CreateExtendedSourceServer, a DRS write. The functions
the specification names keep their names, and each takes the active regions it may touch (property 11):
the plan resolves them, each work item is one (target account, active region), and the worker passes
that region on.

Per work item the target's role is assumed once (by `run_work_item`); ListExtensibleSourceServers is
called in the target account for each staging account it trusts - it already leaves out servers
extended into this target, so nothing is compared by hand and no staging-account role is needed
(property 12: role assumptions == work items). Extensions run a few at a time. A permanent failure is
remembered per staging server and retried only after a growing backoff; throttling that outlasts the
SDK's retries hands the item back to the state machine, which retries it.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from . import aws
from .accounts import AccountRecord
from .errors import InvalidSyncInput
from .models import ItemResult, WorkItem
from .observability import logger
from .regions import THROTTLED, status_for_error, utc_now
from .settings import Settings
from .staging_spec import encode_note
from .staging_store import QUOTA_SK, ExtensionStore, is_deferred
from .worker import WorkContext, WorkOutcome, run_work_item

EXTENSIBLE_PAGE_SIZE = 300  # the model's maximum for ListExtensibleSourceServers
STAGING_FILTER_BATCH = 200  # DescribeSourceServers filters.stagingAccountIDs holds at most 200 ids
EXTEND_CONCURRENCY = 4
RETHROTTLE_PAUSE_SECONDS = 2.0
MAX_NOTES = 15  # structured notes per item (failures, dry-run candidates); the item keeps 20 warnings
_ALREADY_EXTENDED = re.compile(r"already\s+(been\s+)?extended|already\s+exists", re.IGNORECASE)

DrsFor = Callable[[str], Any]  # region -> a DRS client in the target account


class RegionNotActive(InvalidSyncInput):
    """A staging function was asked to touch a region outside the active regions it was given."""


@dataclass(frozen=True)
class StagingOptions:
    dry_run: bool = False

    @classmethod
    def from_item(cls, item: WorkItem) -> StagingOptions:
        return cls(dry_run=bool(item.options.get("dryRun")))


@dataclass(frozen=True)
class ExtensionResult:
    arn: str
    outcome: str  # extended | already_extended | failed | throttled | deferred_quota
    extended_arn: str | None = None
    code: str | None = None
    message: str | None = None
    error: ClientError | None = None


@dataclass
class ExtendReport:
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extensible: int = 0
    throttled: ClientError | None = None

    def note(self, kind: str, record: dict[str, Any]) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(encode_note(kind, record))


def _region_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 else None


def _account_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else None


def _require_active(region: str, active_regions: Iterable[str]) -> None:
    if region not in set(active_regions):
        raise RegionNotActive(f"{region} is not one of the active regions this call was given")


def _is_throttle(exc: ClientError) -> bool:
    return status_for_error(aws.error_code(exc)) == THROTTLED


# ------------------------------------------------------------------ reads


def get_staging_account_servers(
    drs_for: DrsFor, staging_account_id: str, active_regions: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Per active region: the staging account's servers not yet extended into the target the clients act in.

    ListExtensibleSourceServers, 300 per page, every page. Called in the target account: it needs the
    target's trust in the staging account, not a role in the staging account.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for region in active_regions:
        drs = drs_for(region)
        items: list[dict[str, Any]] = []
        for page in drs.get_paginator("list_extensible_source_servers").paginate(
            stagingAccountID=staging_account_id, PaginationConfig={"PageSize": EXTENSIBLE_PAGE_SIZE}
        ):
            items.extend(page.get("items", []))
        out[region] = items
    return out


def get_extended_source_servers(
    drs_for: DrsFor, staging_account_ids: list[str], active_regions: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Per active region: the target's source servers extended from the given staging accounts.

    DescribeSourceServers filtered by stagingAccountIDs (200 ids per filter), 1,000 per page. Read-only;
    the auto-extend itself does not need it (ListExtensibleSourceServers already leaves these out).
    """
    from .inventory import PAGE_SIZE

    ids = sorted(set(staging_account_ids))
    out: dict[str, list[dict[str, Any]]] = {}
    for region in active_regions:
        drs = drs_for(region)
        servers: list[dict[str, Any]] = []
        for start in range(0, len(ids), STAGING_FILTER_BATCH):
            batch = ids[start : start + STAGING_FILTER_BATCH]
            for page in drs.get_paginator("describe_source_servers").paginate(
                filters={"stagingAccountIDs": batch}, PaginationConfig={"PageSize": PAGE_SIZE}
            ):
                servers.extend(
                    s for s in page.get("items", []) if (s.get("stagingArea") or {}).get("status") == "EXTENDED"
                )
        out[region] = servers
    return out


# ------------------------------------------------------------------ the write


def extend_source_server(
    drs: Any, source_server_arn: str, active_regions: list[str], *, tags: dict[str, str] | None = None
) -> ExtensionResult:
    """CreateExtendedSourceServer for one staging server, classified.

    DRS's own "already extended" ValidationException means another run got there first: not a failure.
    Throttling (after the SDK's retries) is reported as such so the caller can hand the item back.
    """
    region = _region_of_arn(source_server_arn) or drs.meta.region_name
    _require_active(region, active_regions)
    kwargs: dict[str, Any] = {"sourceServerArn": source_server_arn}
    clean = {k: v for k, v in (tags or {}).items() if not k.lower().startswith("aws:")}
    if clean:
        kwargs["tags"] = clean
    try:
        created = drs.create_extended_source_server(**kwargs)
    except ClientError as exc:
        code, message = aws.error_code(exc), aws.error_message(exc)
        if code == "ValidationException" and _ALREADY_EXTENDED.search(message):
            return ExtensionResult(source_server_arn, "already_extended", code=code, message=message)
        if _is_throttle(exc):
            return ExtensionResult(source_server_arn, "throttled", code=code, message=message, error=exc)
        return ExtensionResult(source_server_arn, "failed", code=code, message=message, error=exc)
    server = created.get("sourceServer") or {}
    return ExtensionResult(source_server_arn, "extended", extended_arn=server.get("arn"))


# ------------------------------------------------------------------ one target


def auto_extend_staging_servers(
    target: AccountRecord,
    active_regions: list[str],
    *,
    drs_for: DrsFor,
    store: ExtensionStore,
    execution_arn: str,
    run_id: str,
    dry_run: bool = False,
    now: datetime | None = None,
    concurrency: int = EXTEND_CONCURRENCY,
) -> ExtendReport:
    """Extend into `target`, in each active region, every server of its trusted staging accounts that is
    not extended yet and not deferred by an earlier failure. A dry run lists them and writes nothing."""
    now = now or utc_now()
    report = ExtendReport()
    for region in active_regions:
        _extend_region(
            target, region, active_regions, drs_for, store, report, execution_arn, run_id, dry_run, now, concurrency
        )
    return report


def _extend_region(
    target: AccountRecord,
    region: str,
    active_regions: list[str],
    drs_for: DrsFor,
    store: ExtensionStore,
    report: ExtendReport,
    execution_arn: str,
    run_id: str,
    dry_run: bool,
    now: datetime,
    concurrency: int,
) -> None:
    drs = drs_for(region)
    failures = store.failures(target.accountId, region)
    candidates: list[tuple[str, dict[str, Any]]] = []  # (staging account, server)
    listed: set[str] = set()
    listed_accounts: set[str] = set()
    errors: list[ClientError] = []
    staging_accounts = sorted(set(target.stagingAccounts) - {target.accountId})
    for staging in staging_accounts:
        try:
            servers = get_staging_account_servers(lambda _r: drs, staging, [region])[region]
        except ClientError as exc:
            if _is_throttle(exc):
                raise
            errors.append(exc)
            report.counts["stagingAccountErrors"] += 1
            report.warnings.append(f"staging account {staging}: {aws.error_code(exc)}: {aws.error_message(exc, 200)}")
            logger.warning(
                "staging account unreadable from the target",
                extra={"stagingAccountId": staging, "errorCode": aws.error_code(exc)},
            )
            continue
        report.counts["stagingAccountsChecked"] += 1
        listed_accounts.add(staging)
        for s in servers:
            listed.add(s["arn"])
            candidates.append((staging, s))
    if staging_accounts and len(errors) == len(staging_accounts):
        raise errors[0]  # nothing could be read: the item failed, and says why
    report.extensible += len(candidates)
    report.counts["serversExtensible"] += len(candidates)

    quota = failures.get(QUOTA_SK)
    quota_deferred = is_deferred(quota, now)
    todo: list[tuple[str, dict[str, Any]]] = []
    for staging, s in candidates:
        if quota_deferred or is_deferred(failures.get(s["arn"]), now):
            report.counts["serversDeferred"] += 1
            continue
        todo.append((staging, s))

    if not dry_run:
        # Failures of servers no longer extensible (extended since, or gone) are forgotten.
        stale = [
            sk
            for sk, rec in failures.items()
            if sk != QUOTA_SK and sk not in listed and rec.get("stagingAccountId") in listed_accounts
        ]
        store.clear_failures(target.accountId, region, stale)

    if dry_run:
        for staging, s in todo:
            report.counts["serversToExtend"] += 1
            report.note(
                "would extend",
                {
                    "targetAccountId": target.accountId,
                    "region": region,
                    "stagingAccountId": staging,
                    "stagingServerArn": s["arn"],
                    "hostname": s.get("hostname"),
                },
            )
        return

    quota_hit = threading.Event()
    quota_lock = threading.Lock()
    quota_recorded: list[dict[str, Any]] = []

    def extend(pair: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any], ExtensionResult]:
        staging, s = pair
        if quota_hit.is_set():
            return staging, s, ExtensionResult(s["arn"], "deferred_quota")
        result = extend_source_server(drs, s["arn"], active_regions, tags=s.get("tags"))
        if result.outcome == "failed" and result.code == "ServiceQuotaExceededException":
            quota_hit.set()
        _record(staging, s, result)
        return staging, s, result

    def _record(staging: str, s: dict[str, Any], result: ExtensionResult) -> None:
        arn = s["arn"]
        if result.outcome == "extended":
            store.record_extension(
                target_account_id=target.accountId,
                region=region,
                staging_server_arn=arn,
                staging_account_id=staging,
                extended_server_arn=result.extended_arn,
                execution_arn=execution_arn,
                run_id=run_id,
                hostname=s.get("hostname"),
            )
        if result.outcome in ("extended", "already_extended") and arn in failures:
            store.clear_failures(target.accountId, region, [arn])
        if result.outcome == "failed" and result.code == "ServiceQuotaExceededException":
            # The target's quota, not this server: defer the whole (target, region), once.
            with quota_lock:
                if not quota_recorded:
                    quota_recorded.append(
                        store.record_quota(
                            target_account_id=target.accountId,
                            region=region,
                            message=result.message or "",
                            previous=quota,
                            execution_arn=execution_arn,
                        )
                    )
        elif result.outcome == "failed":
            store.record_failure(
                target_account_id=target.accountId,
                region=region,
                staging_server_arn=arn,
                staging_account_id=staging,
                code=result.code or "Error",
                message=result.message or "",
                previous=failures.get(arn),
                execution_arn=execution_arn,
                hostname=s.get("hostname"),
            )

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        outcomes = list(pool.map(extend, todo))
    throttled = [(staging, s) for staging, s, r in outcomes if r.outcome == "throttled"]
    if throttled:
        # Still throttled after the SDK's own retries: one more pass, one at a time, before the item is
        # handed back to the state machine (whose retry would find the servers extended so far gone).
        time.sleep(RETHROTTLE_PAUSE_SECONDS)
        again = {s["arn"]: (staging, s, extend((staging, s))) for staging, s in throttled}
        outcomes = [again.get(s["arn"], (staging, s, r)) for staging, s, r in outcomes]

    if quota and not quota_hit.is_set() and any(r.outcome == "extended" for _, _, r in outcomes):
        store.clear_failures(target.accountId, region, [QUOTA_SK])  # room again: forget the quota
    for staging, s, result in outcomes:
        if result.outcome == "extended":
            report.counts["serversExtended"] += 1
        elif result.outcome == "already_extended":
            report.counts["serversAlreadyExtended"] += 1
        elif result.outcome == "deferred_quota":
            report.counts["serversDeferred"] += 1
        elif result.outcome == "throttled":
            report.counts["serversThrottled"] += 1
            report.throttled = report.throttled or result.error
        else:
            report.counts["serversFailed"] += 1
            report.counts[f"failed.{result.code}"] += 1
            report.note(
                "extension failed",
                {
                    "targetAccountId": target.accountId,
                    "region": region,
                    "stagingAccountId": staging,
                    "stagingServerArn": s["arn"],
                    "hostname": s.get("hostname"),
                    "code": result.code,
                    "message": (result.message or "")[:300],
                },
            )
    logger.info(
        "staging servers extended",
        extra={
            "targetAccountId": target.accountId,
            "region": region,
            "extensible": len(candidates),
            "attempted": len(todo),
            "counts": dict(report.counts),
        },
    )


# ------------------------------------------------------------------ the worker


def staging_work(ctx: WorkContext, *, execution_arn: str | None = None) -> WorkOutcome:
    """One (target account, region) work item."""
    item = ctx.item
    options = StagingOptions.from_item(item)
    report = auto_extend_staging_servers(
        ctx.account,
        [item.region],
        drs_for=lambda region: ctx.client("drs", region=region),
        store=ExtensionStore(ctx.table(ctx.settings.staging_extensions_table)),
        execution_arn=execution_arn or item.runId,
        run_id=item.runId,
        dry_run=options.dry_run,
    )
    if report.throttled is not None:
        # Extensions that went through are recorded; the retried item finds them no longer extensible.
        raise report.throttled
    counts = {
        k: int(report.counts.get(k, 0))
        for k in ("serversExtended", "serversFailed", "serversDeferred", "serversAlreadyExtended", "serversToExtend")
    }
    counts.update({k: int(v) for k, v in report.counts.items() if k not in counts})
    return WorkOutcome(server_count=report.extensible, counts=counts, warnings=report.notes + report.warnings)


def handle_sync_staging_accounts(item: WorkItem, settings: Settings, *, execution_arn: str | None = None) -> ItemResult:
    """The staging sync's worker: auto-extend one target account in one active region (the plan's).

    `execution_arn` is the run's execution, recorded with every extension for audit.
    """
    return run_work_item(item, settings, lambda ctx: staging_work(ctx, execution_arn=execution_arn))
