"""What the staging sync changes in the shared run: its input, the targets it covers, the statuses its plan
is built from, and its summary counters and fields.

Read-only: nothing here calls DRS, so the shared task functions can import it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, field_validator

from ...core.errors import InvalidSyncInput
from ...core.observability import logger
from ...core.regions import AVAILABLE
from ...run.accounts import AccountRecord
from ...run.models import MAX_ERRORS_IN_SUMMARY, ItemResult, RunRecord, SyncInput, account_ids
from ...run.region_status import RegionStatus
from ...run.spec import SyncSpec
from ...run.summary import Summary, counter

# The kinds of the structured notes a staging item reports (ItemResult.notes): the summary lists them.
FAILED_NOTE = "extension failed"
DRY_RUN_NOTE = "would extend"
# Calls a skipped (target, region) pair costs at the least: the AssumeRole and one
# ListExtensibleSourceServers page per staging account (counted once: a target has one or more).
MIN_CALLS_PER_PAIR = 2

Note = dict[str, str | None]


class StagingSyncInput(SyncInput):
    """`{"targetAccounts": [...], "dryRun": true}` on top of the common scope and mode."""

    targetAccounts: list[str] | None = Field(default=None, min_length=1)
    dryRun: StrictBool = False

    @field_validator("targetAccounts")
    @classmethod
    def _target_ids(cls, v: list[str] | None) -> list[str] | None:
        return account_ids(v)


class StagingSummary(Summary):
    serversExtended: int = counter("staging servers extended into their target")
    serversFailed: int = counter("extensions DRS refused (remembered, retried after a backoff)")
    serversDeferred: int = counter("extensions not tried: an earlier failure's backoff, or the quota")
    serversAlreadyExtended: int = counter("extensions another run had made first")
    serversToExtend: int = counter("extensions a dry run would make")
    dryRun: bool = Field(description="whether the run was a dry run")
    targetAccounts: list[str] | None = Field(default=None, description="the targets the input named, if any")
    failures: list[Note] = Field(description=f"the first {MAX_ERRORS_IN_SUMMARY} failed extensions")
    wouldExtend: list[Note] | None = Field(default=None, description="a dry run's candidates (the first listed)")
    wouldExtendOmitted: int | None = Field(
        default=None, description="a dry run's candidates wouldExtend leaves out (serversToExtend counts them all)"
    )
    callsSavedVsAllRegions: int = Field(description="calls the skipped pairs would have cost at the least")


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
    is their sum, lastChecked/lastSuccess the oldest of theirs. A region where the target itself is known to
    be empty (DRS never initialized there, or the region not enabled) keeps the target's own row: nothing can
    be extended into it, so the discovery age alone brings it back. Where a staging account has no row for a
    region (or no rows at all: a new account) the target gets no row, so the shared plan scans that pair
    exactly as it would for a new account. The plan's fallbacks (table empty or unreadable, filtering off,
    discovery) are unchanged.
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
        empty = [s for s in statuses if s.accountId == target.accountId and s.known_empty]
        out.extend(empty)
        staging = sorted(set(target.stagingAccounts))
        if any(a not in regions_of for a in staging):
            continue  # a staging account never scanned: plan every other region of this target
        for region in sorted(set().union(*(regions_of[a] for a in staging)) - {s.region for s in empty}):
            derived = _derived_status(target.accountId, region, [by_pair.get((a, region)) for a in staging])
            if derived is not None:
                out.append(derived)
    return out


def _derived_status(target_id: str, region: str, rows: list[RegionStatus | None]) -> RegionStatus | None:
    """A target's row from its staging accounts' rows of one region; None unless each has a server count."""
    known = [r for r in rows if r is not None and r.serverCount is not None]
    if len(known) != len(rows):
        return None
    checked = [r.lastChecked for r in known]
    succeeded = [r.lastSuccess for r in known]
    return RegionStatus(
        accountId=target_id,
        region=region,
        status=AVAILABLE,
        serverCount=sum(r.serverCount or 0 for r in known),
        lastChecked=None if None in checked else min(c for c in checked if c is not None),
        lastSuccess=None if None in succeeded else min(c for c in succeeded if c is not None),
    )


def notes(results: list[ItemResult], kind: str) -> list[Note]:
    """The items' notes of one kind, in (target, region) order."""
    ordered = sorted(results, key=lambda r: (r.accountId, r.region))
    return [dict(sorted(n.record.items())) for r in ordered for n in r.notes if n.kind == kind]


def summary_fields(summary: Summary, results: list[ItemResult], run: RunRecord) -> dict[str, Any]:
    dry_run = bool(run.options.get("dryRun"))
    fields: dict[str, Any] = {
        "dryRun": dry_run,
        "failures": notes(results, FAILED_NOTE)[:MAX_ERRORS_IN_SUMMARY],
        "callsSavedVsAllRegions": summary.pairsSkipped * MIN_CALLS_PER_PAIR,
    }
    if run.options.get("targetAccounts"):
        fields["targetAccounts"] = sorted(run.options["targetAccounts"])
    if dry_run:  # at most MAX_NOTES_PER_ITEM candidates travel with each item, MAX_ERRORS_IN_SUMMARY in all
        listed = notes(results, DRY_RUN_NOTE)[:MAX_ERRORS_IN_SUMMARY]
        fields["wouldExtend"] = listed
        fields["wouldExtendOmitted"] = max(0, summary.counts.get("serversToExtend", 0) - len(listed))
    logger.info(
        "staging sync summarized",
        extra={
            "dryRun": dry_run,
            "regionsScanned": len({r.region for r in results}),
            "apiCallTotal": summary.apiCallTotal,
            **{k: summary.counts.get(k, 0) for k in ("serversExtended", "serversFailed", "serversDeferred")},
        },
    )
    return fields


SPEC = SyncSpec(
    "staging",
    input_model=StagingSyncInput,
    summary_model=StagingSummary,
    select_accounts=staging_targets,
    plan_statuses=staging_plan_statuses,
    summary_fields=summary_fields,
)
