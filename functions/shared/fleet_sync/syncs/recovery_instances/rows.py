"""The cache row of one recovery instance: one per source server that has one (a source server has at most
one recovery instance; a new launch replaces it), keyed by `sourceServerID`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...core.clock import iso
from ...core.tables import account_region
from .drs import SourceExecution

TERMINATING, TERMINATE_FAILED = "TERMINATING", "TERMINATE_FAILED"  # a row's terminateStatus
ROW_TTL_SECONDS = 24 * 3600  # rows of pairs no longer scanned age out; terminate still finds recent ones

# Always present on a row (the data-integrity property of the spec).
REQUIRED_FIELDS = (
    "sourceServerID",
    "recoveryInstanceID",
    "ec2InstanceID",
    "ec2InstanceState",
    "sourceServerName",
    "name",
    "region",
    "accountId",
    "accountRegion",
    "replicationStagingAccountId",
    "isDrill",
    "originEnvironment",
    "lastSyncTime",
    "expiresAt",
)
# Present when known: EC2 details of a live instance, the source machine's network, the execution.
OPTIONAL_FIELDS = (
    "privateIp",
    "publicIp",
    "instanceType",
    "launchTime",
    "jobID",
    "pointInTimeSnapshotDateTime",
    "sourceExecutionId",
    "sourcePlanName",
    "sourceVpcId",
    "sourceSubnetId",
    "sourceSecurityGroupIds",
    "sourceInstanceProfile",
    "terminateStatus",
    "terminateJobID",
    "terminateError",
)
# Written by the sync itself; never a reason to call a row changed.
BOOKKEEPING_FIELDS = ("lastSyncTime", "expiresAt")
# Kept from the previous row of the same recovery instance when this sync cannot tell them: the execution
# (a job tag may be missing, a scoped run may have recorded it) and the source network (the source machine
# is often stopped or gone by the time its recovery instance runs); and a termination in progress or failed
# (DRS shows it only in the terminate job, which the row names).
CARRIED_FIELDS = (
    "sourceExecutionId",
    "sourcePlanName",
    "sourceVpcId",
    "sourceSubnetId",
    "sourceSecurityGroupIds",
    "sourceInstanceProfile",
    "terminateStatus",
    "terminateJobID",
    "terminateError",
)


def _staging_account(server: dict[str, Any], account_id: str) -> str:
    staging = server.get("stagingArea") or {}
    extended = staging.get("stagingAccountID") if staging.get("status") == "EXTENDED" else None
    return str(extended or account_id)


def to_cache_row(
    ri: dict[str, Any],
    *,
    account_id: str,
    region: str,
    server: dict[str, Any] | None,
    ec2: dict[str, Any] | None,
    source_network: dict[str, Any] | None,
    execution: SourceExecution | None,
    now: datetime,
) -> dict[str, Any]:
    """The cache row of one recovery instance (None and empty values left out: the execution index is sparse)."""
    server = server or {}
    ec2 = ec2 or {}
    hints = (server.get("sourceProperties") or {}).get("identificationHints") or {}
    ri_hints = (ri.get("recoveryInstanceProperties") or {}).get("identificationHints") or {}
    source_name = hints.get("hostname") or hints.get("fqdn") or ri_hints.get("hostname") or ri["sourceServerID"]
    row: dict[str, Any] = {
        "sourceServerID": ri["sourceServerID"],
        "recoveryInstanceID": ri["recoveryInstanceID"],
        "ec2InstanceID": ri.get("ec2InstanceID") or ri["recoveryInstanceID"],
        "ec2InstanceState": ri.get("ec2InstanceState") or (ec2.get("ec2InstanceState") or "NOT_FOUND").upper(),
        "sourceServerName": source_name,
        "name": ec2.get("name") or source_name,
        "privateIp": ec2.get("privateIp"),
        "publicIp": ec2.get("publicIp"),
        "instanceType": ec2.get("instanceType"),
        "launchTime": ec2.get("launchTime"),
        "region": region,
        "accountId": account_id,
        "accountRegion": account_region(account_id, region),
        "replicationStagingAccountId": _staging_account(server, account_id),
        "jobID": ri.get("jobID"),
        "isDrill": bool(ri.get("isDrill")),
        "originEnvironment": ri.get("originEnvironment") or "UNKNOWN",
        "pointInTimeSnapshotDateTime": ri.get("pointInTimeSnapshotDateTime"),
        "sourceExecutionId": execution.executionId if execution else None,
        "sourcePlanName": execution.planName if execution else None,
        **(source_network or {}),
        "lastSyncTime": iso(now),
        "expiresAt": int(now.timestamp()) + ROW_TTL_SECONDS,
    }
    return {k: v for k, v in row.items() if v not in (None, "", [])}


def content(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in BOOKKEEPING_FIELDS}


def carry_over(row: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """Keep what the previous row of the same recovery instance knew and this sync could not tell."""
    if not old or old.get("recoveryInstanceID") != row["recoveryInstanceID"]:
        return row
    kept = {k: old[k] for k in CARRIED_FIELDS if k not in row and old.get(k) not in (None, "", [])}
    return {**row, **kept} if kept else row


def missing_fields(row: dict[str, Any]) -> list[str]:
    return [f for f in REQUIRED_FIELDS if row.get(f) in (None, "")]
