"""Staging-account auto-extend: every staging-account source server is extended into the target accounts
that trust its staging account. With the tag sync's `tagging`, the only module that writes to DRS.

Per (target, active region): list each trusted staging account's extensible servers, leave out those an
earlier failure defers, extend the rest a few at a time, remember each permanent failure (retried only after
a growing backoff) and the target's quota when it is hit, and audit every extension. Throttling that outlasts
the SDK's retries gets one more pass, then hands the item back to the state machine, which retries it.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from ...core import aws
from ...core.clock import utc_now
from ...core.errors import InvalidSyncInput
from ...core.observability import logger
from ...core.regions import is_known_empty, is_throttling
from ...run.accounts import AccountRecord
from ...run.models import MAX_NOTES_PER_ITEM, ItemNote
from .reads import DrsFor, get_staging_account_servers
from .spec import DRY_RUN_NOTE, FAILED_NOTE
from .store import QUOTA_SK, Extension, ExtensionStore, FailedExtension, is_deferred

EXTEND_CONCURRENCY = 4
_ALREADY_EXTENDED = re.compile(r"already\s+(been\s+)?extended|already\s+exists", re.IGNORECASE)
ExtensionOutcome = Literal["extended", "already_extended", "failed", "throttled", "deferred_quota"]
RETHROTTLE_PAUSE_SECONDS = 2.0

Candidate = tuple[str, dict[str, Any]]  # (staging account id, its extensible server)


class RegionNotActive(InvalidSyncInput):
    """A staging function was asked to touch a region outside the active regions it was given."""


@dataclass(frozen=True)
class ExtensionResult:
    arn: str
    outcome: ExtensionOutcome
    extended_arn: str | None = None
    code: str | None = None
    message: str | None = None
    error: ClientError | None = None

    @property
    def quota_hit(self) -> bool:
        return self.outcome == "failed" and self.code == "ServiceQuotaExceededException"


Outcome = tuple[str, dict[str, Any], ExtensionResult]  # a candidate and what its extension did


def _region_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 else None


def _require_active(region: str, active_regions: Iterable[str]) -> None:
    if region not in set(active_regions):
        raise RegionNotActive(f"{region} is not one of the active regions this call was given")


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
        if is_throttling(code):
            return ExtensionResult(source_server_arn, "throttled", code=code, message=message, error=exc)
        return ExtensionResult(source_server_arn, "failed", code=code, message=message, error=exc)
    server = created.get("sourceServer") or {}
    return ExtensionResult(source_server_arn, "extended", extended_arn=server.get("arn"))


@dataclass(frozen=True)
class ExtendRun:
    """The run an extension belongs to (recorded with it for audit) and how it extends."""

    execution_arn: str
    run_id: str
    dry_run: bool = False
    now: datetime | None = None
    concurrency: int = EXTEND_CONCURRENCY


@dataclass
class ExtendReport:
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[ItemNote] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    throttled: ClientError | None = None

    def note(self, kind: str, record: dict[str, str | None]) -> None:
        if len(self.notes) < MAX_NOTES_PER_ITEM:
            self.notes.append(ItemNote(kind=kind, record=record))


@dataclass
class Listing:
    """What the target's staging accounts offer in one region."""

    candidates: list[Candidate] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)  # the staging servers' ARNs
    listed_accounts: set[str] = field(default_factory=set)  # the staging accounts that could be read


def list_candidates(target: AccountRecord, region: str, drs: Any, report: ExtendReport) -> Listing:
    """Every staging account's extensible servers; an unreadable staging account is a warning, unless none
    can be read (then the item fails, and says why)."""
    listing = Listing()
    errors: list[ClientError] = []
    staging_accounts = sorted(set(target.stagingAccounts) - {target.accountId})
    for staging in staging_accounts:
        try:
            servers = get_staging_account_servers(lambda _r: drs, staging, [region])[region]
        except ClientError as exc:
            code = aws.error_code(exc)
            if is_throttling(code) or is_known_empty(code):  # about the target's region: every listing fails alike
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
        listing.listed_accounts.add(staging)
        for s in servers:
            listing.listed.add(s["arn"])
            listing.candidates.append((staging, s))
    if staging_accounts and len(errors) == len(staging_accounts):
        raise errors[0]
    return listing


class RegionExtension:
    """The extensions into one target in one region."""

    def __init__(
        self, target: AccountRecord, region: str, active_regions: list[str], drs: Any, store: ExtensionStore
    ) -> None:
        self.target, self.region, self.active_regions, self.drs, self.store = (
            target,
            region,
            active_regions,
            drs,
            store,
        )
        self.failures = store.failures(target.accountId, region)
        self.quota = self.failures.get(QUOTA_SK)
        self._quota_hit = threading.Event()
        self._quota_lock = threading.Lock()
        self._quota_recorded = False

    def run(self, run: ExtendRun, now: datetime, report: ExtendReport) -> None:
        listing = list_candidates(self.target, self.region, self.drs, report)
        report.counts["serversExtensible"] += len(listing.candidates)
        todo = self._due(listing.candidates, now, report)
        if run.dry_run:
            for staging, s in todo:
                report.counts["serversToExtend"] += 1
                report.note(DRY_RUN_NOTE, self._record_of(staging, s))
            return
        self._forget_stale(listing)
        outcomes = self._extend_all(todo, run)
        if self.quota and not self._quota_hit.is_set() and any(r.outcome == "extended" for _, _, r in outcomes):
            self.store.clear_failures(self.target.accountId, self.region, [QUOTA_SK])  # room again
        self._tally(outcomes, report)
        logger.info(
            "staging servers extended",
            extra={
                "targetAccountId": self.target.accountId,
                "region": self.region,
                "extensible": len(listing.candidates),
                "attempted": len(todo),
                "counts": dict(report.counts),
            },
        )

    def _due(self, candidates: list[Candidate], now: datetime, report: ExtendReport) -> list[Candidate]:
        """The candidates no earlier failure (of the server, or the target's quota) defers."""
        quota_deferred = is_deferred(self.quota, now)
        todo: list[Candidate] = []
        for staging, s in candidates:
            if quota_deferred or is_deferred(self.failures.get(s["arn"]), now):
                report.counts["serversDeferred"] += 1
            else:
                todo.append((staging, s))
        return todo

    def _forget_stale(self, listing: Listing) -> None:
        """Failures of servers no longer extensible (extended since, or gone) are forgotten."""
        stale = [
            sk
            for sk, rec in self.failures.items()
            if sk != QUOTA_SK and sk not in listing.listed and rec.get("stagingAccountId") in listing.listed_accounts
        ]
        self.store.clear_failures(self.target.accountId, self.region, stale)

    def _extend_all(self, todo: list[Candidate], run: ExtendRun) -> list[Outcome]:
        def extend(candidate: Candidate) -> Outcome:
            return (*candidate, self._extend(*candidate, run))

        with ThreadPoolExecutor(max_workers=max(1, run.concurrency)) as pool:
            outcomes = list(pool.map(extend, todo))
        throttled = [(staging, s) for staging, s, r in outcomes if r.outcome == "throttled"]
        if not throttled:
            return outcomes
        # Still throttled after the SDK's own retries: one more pass, one at a time, before the item is
        # handed back to the state machine (whose retry would find the servers extended so far gone).
        time.sleep(RETHROTTLE_PAUSE_SECONDS)
        again = {s["arn"]: extend((staging, s)) for staging, s in throttled}
        return [again.get(s["arn"], (staging, s, r)) for staging, s, r in outcomes]

    def _extend(self, staging: str, server: dict[str, Any], run: ExtendRun) -> ExtensionResult:
        if self._quota_hit.is_set():
            return ExtensionResult(server["arn"], "deferred_quota")
        result = extend_source_server(self.drs, server["arn"], self.active_regions, tags=server.get("tags"))
        if result.quota_hit:
            self._quota_hit.set()
        self._remember(staging, server, result, run)
        return result

    def _remember(self, staging: str, server: dict[str, Any], result: ExtensionResult, run: ExtendRun) -> None:
        """Audit an extension, forget what it settles, remember a failure (the quota once per region)."""
        arn, target_id = server["arn"], self.target.accountId
        if result.outcome == "extended":
            extension = Extension(
                target_id,
                self.region,
                arn,
                staging,
                result.extended_arn,
                run.execution_arn,
                run.run_id,
                server.get("hostname"),
            )
            self.store.record_extension(extension)
        if result.outcome in ("extended", "already_extended") and arn in self.failures:
            self.store.clear_failures(target_id, self.region, [arn])
        if result.quota_hit:  # the target's quota, not this server: defer the whole (target, region), once
            with self._quota_lock:
                if not self._quota_recorded:
                    self._quota_recorded = True
                    self.store.record_quota(
                        target_account_id=target_id,
                        region=self.region,
                        message=result.message or "",
                        previous=self.quota,
                        execution_arn=run.execution_arn,
                    )
        elif result.outcome == "failed":
            failure = FailedExtension(
                target_id,
                self.region,
                arn,
                staging,
                result.code or "Error",
                result.message or "",
                run.execution_arn,
                server.get("hostname"),
            )
            self.store.record_failure(failure, previous=self.failures.get(arn))

    def _tally(self, outcomes: list[Outcome], report: ExtendReport) -> None:
        counted = {
            "extended": "serversExtended",
            "already_extended": "serversAlreadyExtended",
            "deferred_quota": "serversDeferred",
            "throttled": "serversThrottled",
        }
        for staging, s, result in outcomes:
            if result.outcome in counted:
                report.counts[counted[result.outcome]] += 1
                if result.outcome == "throttled":
                    report.throttled = report.throttled or result.error
                continue
            report.counts["serversFailed"] += 1
            report.counts[f"failed.{result.code}"] += 1
            record = {**self._record_of(staging, s), "code": result.code, "message": (result.message or "")[:300]}
            report.note(FAILED_NOTE, record)

    def _record_of(self, staging: str, server: dict[str, Any]) -> dict[str, str | None]:
        return {
            "targetAccountId": self.target.accountId,
            "region": self.region,
            "stagingAccountId": staging,
            "stagingServerArn": server["arn"],
            "hostname": server.get("hostname"),
        }


def auto_extend_staging_servers(
    target: AccountRecord, active_regions: list[str], *, drs_for: DrsFor, store: ExtensionStore, run: ExtendRun
) -> ExtendReport:
    """Extend into `target`, in each active region, every server of its trusted staging accounts that is
    not extended yet and not deferred by an earlier failure. A dry run lists them and writes nothing."""
    now = run.now or utc_now()
    report = ExtendReport()
    for region in active_regions:
        drs = drs_for(region)
        RegionExtension(target, region, active_regions, drs, store).run(run, now, report)
    return report
