"""The recovery-instance sync of one target (account, region) into the cache:

1. DescribeRecoveryInstances, every page (optionally filtered to the scoped run's source servers);
2. the source servers they came from: DescribeSourceServers filtered by up to 200 ids per call;
3. the recovery instances' EC2 details: DescribeInstances, up to 1,000 ids per call;
4. the source machines' network (VPC, subnet, security groups, instance profile): DescribeInstances in
   each origin (account, region), batched the same way, for AWS-origin servers;
5. the execution that launched each instance (`drs.find_source_execution`); for rows a terminate marked
   `TERMINATING` whose instance is still there, whether the terminate job failed (`drs.job_outcomes`);
6. every row of the pair written with BatchWriteItem (`lastSyncTime` and the TTL move on each sync);
7. rows of the pair that the scan did not see are deleted, only after a successful full scan of that pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...core.clock import utc_now
from ...core.errors import ServerNotInExecution
from ...core.observability import logger
from ...core.reads import Access
from ...core.tables import account_region
from .drs import (
    SourceExecution,
    enrich_with_ec2_details,
    find_source_execution,
    get_recovery_instances_for_region,
    get_source_servers,
    job_outcomes,
)
from .rows import TERMINATE_FAILED, TERMINATING, carry_over, content, to_cache_row
from .store import KEY, CacheStore


@dataclass
class PairSyncResult:
    account_id: str
    region: str
    seen: int = 0
    written: int = 0
    changed: int = 0
    new: int = 0
    removed: int = 0
    executions_resolved: int = 0
    ec2_missing: int = 0
    scoped: bool = False
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "instancesSeen": self.seen,
            "instancesUpdated": self.written,
            "instancesChanged": self.changed,
            "instancesNew": self.new,
            "instancesRemoved": self.removed,
            "executionsResolved": self.executions_resolved,
            "ec2DetailsMissing": self.ec2_missing,
        }


@dataclass(frozen=True)
class Scope:
    """A scoped wave-completion run: only these servers, each of whose recovery instances a job of this
    execution must have launched. The execution is checked against DRS, never written from the request."""

    source_server_ids: list[str]
    execution_id: str


@dataclass(frozen=True)
class History:
    """The orchestrator's execution-history table and its job-id index, when one is configured."""

    table: Any | None = None
    index: str = "ByJobId"


def sync_recovery_instances_for_account(
    account_id: str,
    region: str,
    *,
    access: Access,
    table: Any,
    history: History | None = None,
    scope: Scope | None = None,
    now: datetime | None = None,
) -> PairSyncResult:
    """Sync one target (account, region) into the cache; the Distributed Map's work per item.

    With a `scope` (a scoped wave-completion run) only those servers' instances are read and written, and no
    other row is touched; the run is refused (ServerNotInExecution, nothing written) unless a job of the
    scope's execution launched every one of them. Raises on any DRS or EC2 failure of the pair itself, before
    anything is deleted.
    """
    history = history or History()
    result = PairSyncResult(account_id, region, scoped=scope is not None)
    drs = access.client("drs", credentials=access.credentials, region=region)
    instances = get_recovery_instances_for_region(drs, scope.source_server_ids if scope else None)
    servers = get_source_servers(drs, [ri["sourceServerID"] for ri in instances])
    recovery_ec2, source_network = enrich_with_ec2_details(
        instances, servers, account_id, region, access=access, warnings=result.warnings
    )
    executions = find_source_execution(
        drs,
        [ri.get("jobID") for ri in instances],
        history_table=history.table,
        history_index=history.index,
        warnings=result.warnings,
    )
    if scope is not None:
        _check_scope(scope, instances, executions)
    store = CacheStore(table)
    existing = store.pair_rows(account_id, region)
    stamp = now or utc_now()
    rows: list[dict[str, Any]] = []
    for ri in sorted(instances, key=lambda r: r["sourceServerID"]):
        execution = executions.get(ri.get("jobID") or "")
        ec2 = recovery_ec2.get(ri.get("ec2InstanceID") or "")
        result.ec2_missing += int(ec2 is None)
        row = to_cache_row(
            ri,
            account_id=account_id,
            region=region,
            server=servers.get(ri["sourceServerID"]),
            ec2=ec2,
            source_network=source_network.get(ri["sourceServerID"]),
            execution=execution,
            now=stamp,
        )
        rows.append(_compared(row, existing.get(row[KEY]), result))
    _record_failed_terminations(drs, rows)
    _write(store, rows, existing, result)
    logger.info("recovery instances synced", extra={"pair": account_region(account_id, region), **result.counts()})
    return result


def _check_scope(scope: Scope, instances: list[dict[str, Any]], executions: dict[str, SourceExecution]) -> None:
    """Every instance of a scoped run was launched by a job of its execution (job tag or execution history)."""
    foreign = sorted(
        ri["sourceServerID"]
        for ri in instances
        if (found := executions.get(ri.get("jobID") or "")) is None or found.executionId != scope.execution_id
    )
    if foreign:
        raise ServerNotInExecution(
            f"execution {scope.execution_id} launched no recovery instance of {len(foreign)} named server(s) "
            f"(by DRS job tags or the execution history): {', '.join(foreign[:10])}"
        )


def _compared(row: dict[str, Any], old: dict[str, Any] | None, result: PairSyncResult) -> dict[str, Any]:
    """The row with what its previous row knew carried over, counted as new, changed, resolved."""
    row = carry_over(row, old)
    result.executions_resolved += int("sourceExecutionId" in row)
    result.new += int(old is None)
    result.changed += int(old is None or content(old) != content(row))
    return row


def _record_failed_terminations(drs: Any, rows: list[dict[str, Any]]) -> None:
    """Rows still marked ``TERMINATING`` whose instance DRS still has: if their job has finished without
    terminating it, the row says so (``TERMINATE_FAILED`` and DRS's reason) for every reader of the cache."""
    terminating = [r for r in rows if r.get("terminateStatus") == TERMINATING]
    if not terminating:
        return
    outcomes = job_outcomes(drs, terminating)
    for row in terminating:
        outcome = outcomes.get(row["recoveryInstanceID"])
        if outcome is not None:
            row["terminateStatus"] = TERMINATE_FAILED
            row["terminateError"] = outcome.error or "the terminate job did not terminate the instance"


def _write(
    store: CacheStore, rows: list[dict[str, Any]], existing: dict[str, dict[str, Any]], result: PairSyncResult
) -> None:
    result.seen = len(rows)
    store.put_rows(rows)
    result.written = len(rows)
    if not result.scoped:
        # Reached only when the whole scan of this pair succeeded: every failure above raised first.
        seen = {r[KEY] for r in rows}
        result.removed = store.delete_rows(sid for sid in existing if sid not in seen)
    if result.ec2_missing:
        result.warnings.append(f"{result.ec2_missing} recovery instance(s) without EC2 details")
