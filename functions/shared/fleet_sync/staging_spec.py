"""What the staging-account sync changes in the shared run: its input, the targets it covers, the statuses
its plan is built from, and its summary fields.

Read-only: nothing here calls DRS, so the shared task functions can import it (requirement 11).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field, StrictBool, field_validator

from .accounts import AccountRecord
from .errors import InvalidSyncInput
from .models import ACCOUNT_ID, MAX_ERRORS_IN_SUMMARY, ItemResult, SyncInput
from .observability import logger
from .regions import AVAILABLE, RegionStatus

# Item warnings that carry one structured record (a failed extension, a dry-run candidate): the summary
# lifts them into lists. Anything else in the warnings stays a plain warning.
NOTE_KINDS = ("extension failed", "would extend")
# Calls a skipped (target, region) pair costs at the least: the AssumeRole and one
# ListExtensibleSourceServers page per staging account (counted once: a target has one or more).
MIN_CALLS_PER_PAIR = 2


class StagingSyncInput(SyncInput):
    """`{"targetAccounts": [...], "dryRun": true}` on top of the common scope and mode."""

    targetAccounts: list[str] | None = Field(default=None, min_length=1)
    dryRun: StrictBool = False

    @field_validator("targetAccounts")
    @classmethod
    def _target_ids(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            bad = [a for a in v if not isinstance(a, str) or not re.fullmatch(ACCOUNT_ID, a)]
            if bad:
                raise ValueError(f"not 12-digit account ids: {bad}")
        return v


def staging_targets(accounts: list[AccountRecord], request: SyncInput) -> list[AccountRecord]:
    """Target accounts that trust at least one staging account, narrowed to `targetAccounts` if given."""
    targets = [a for a in accounts if a.kind == "target"]
    wanted = getattr(request, "targetAccounts", None)
    if wanted is not None:
        unknown = sorted(set(wanted) - {a.accountId for a in targets})
        if unknown:
            raise InvalidSyncInput(f"targetAccounts: not registered target accounts: {unknown}")
        targets = [a for a in targets if a.accountId in set(wanted)]
    idle = sorted(a.accountId for a in targets if not a.stagingAccounts)
    if idle:
        logger.info("target accounts without staging accounts: nothing to extend", extra={"accounts": idle})
    return [a for a in targets if a.stagingAccounts]


def staging_plan_statuses(
    statuses: list[RegionStatus] | None, registered: list[AccountRecord]
) -> list[RegionStatus] | None:
    """A target's region is worth a visit when any of its staging accounts holds servers there.

    Each target's own rows are replaced by rows derived from its staging accounts' rows: the server count
    is their sum, lastChecked/lastSuccess the oldest of theirs. Where a staging account has no row for a
    region (or no rows at all: a new account) the target gets no row, so the shared plan scans that pair
    (every region of the target) exactly as it would for a new account. The plan's fallbacks (table empty
    or unreadable, filtering off, discovery) are unchanged.
    """
    if not statuses:
        return statuses
    targets = {a.accountId: a for a in registered if a.kind == "target" and a.stagingAccounts}
    by_pair = {(s.accountId, s.region): s for s in statuses}
    regions_of: dict[str, set[str]] = {}
    for s in statuses:
        regions_of.setdefault(s.accountId, set()).add(s.region)
    out = [s for s in statuses if s.accountId not in targets]
    for target in targets.values():
        staging = sorted(set(target.stagingAccounts))
        if any(a not in regions_of for a in staging):
            continue  # a staging account never scanned: plan every region of this target
        for region in sorted(set().union(*(regions_of[a] for a in staging))):
            rows = [by_pair.get((a, region)) for a in staging]
            if any(r is None or r.serverCount is None for r in rows):
                continue
            checked = [r.lastChecked for r in rows]
            succeeded = [r.lastSuccess for r in rows]
            out.append(
                RegionStatus(
                    accountId=target.accountId,
                    region=region,
                    status=AVAILABLE,
                    serverCount=sum(r.serverCount or 0 for r in rows),
                    lastChecked=None if None in checked else min(checked),
                    lastSuccess=None if None in succeeded else min(succeeded),
                )
            )
    return out


def encode_note(kind: str, record: dict[str, Any]) -> str:
    """An item warning carrying one structured record (see NOTE_KINDS)."""
    return f"{kind}: {json.dumps(record, sort_keys=True, default=str)}"


def decode_notes(results: list[ItemResult], kind: str) -> list[dict[str, Any]]:
    prefix = f"{kind}: "
    out: list[dict[str, Any]] = []
    for r in sorted(results, key=lambda r: (r.accountId, r.region)):
        for w in r.warnings:
            if w.startswith(prefix):
                try:
                    out.append(json.loads(w[len(prefix) :]))
                except ValueError:
                    out.append({"targetAccountId": r.accountId, "region": r.region, "detail": w})
    return out


def refine_staging_summary(summary: dict[str, Any], results: list[ItemResult], run: dict[str, Any]) -> dict[str, Any]:
    options = run.get("options") or {}
    summary["dryRun"] = bool(options.get("dryRun"))
    if options.get("targetAccounts"):
        summary["targetAccounts"] = sorted(options["targetAccounts"])
    counts = summary.get("counts", {})
    summary["serversToExtend"] = counts.get("serversToExtend", 0)
    summary["failures"] = decode_notes(results, "extension failed")[:MAX_ERRORS_IN_SUMMARY]
    if summary["dryRun"]:
        summary["wouldExtend"] = decode_notes(results, "would extend")[:MAX_ERRORS_IN_SUMMARY]
    summary["callsSavedVsAllRegions"] = summary.get("pairsSkipped", 0) * MIN_CALLS_PER_PAIR
    logger.info(
        "staging sync summarized",
        extra={
            "dryRun": summary["dryRun"],
            "regionsScanned": len({w["region"] for w in summary.get("workItems", [])}),
            "apiCallTotal": summary.get("apiCallTotal", 0),
            "serversExtended": summary.get("serversExtended", 0),
            "serversFailed": summary.get("serversFailed", 0),
            "serversDeferred": summary.get("serversDeferred", 0),
        },
    )
    return summary
