"""The recovery-instance sync's reads, all batched (no call per instance): DRS recovery instances and the
source servers they came from, the executions that launched them, and EC2 details.

The execution of a DRS job is its `drs-orchestrator:execution-id` tag (plan name `drs-orchestrator:plan-name`),
else, when an execution-history table is configured, one Query of its job-id index per job the tags did not
resolve (never a Scan).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from ...core.clock import iso, parse_iso
from ...core.observability import logger
from ...core.reads import Access, aws_instance_id, chunks, describe_instances, enrich_with_ec2

EXECUTION_ID_TAG = "drs-orchestrator:execution-id"
PLAN_NAME_TAG = "drs-orchestrator:plan-name"
HISTORY_JOB_ID_ATTRIBUTE = "jobId"  # the execution-history index's partition key (the orchestrator's table)
HISTORY_EXECUTION_ATTRIBUTES = ("executionId",)
HISTORY_PLAN_ATTRIBUTES = ("planName", "recoveryPlanName")
PAGE_SIZE = 1000
SOURCE_SERVER_BATCH = 200  # DescribeSourceServers filters.sourceServerIDs maximum
RECOVERY_INSTANCE_FILTER_BATCH = 200  # DescribeRecoveryInstances filter ids per call
JOB_BATCH = 1000  # DescribeJobs filters.jobIDs maximum
TERMINATE_JOB_BATCH = 100  # terminate jobs asked about per DescribeJobs call


def get_recovery_instances_for_region(
    drs: Any, source_server_ids: Iterable[str] | None = None, *, page_size: int | None = None
) -> list[dict[str, Any]]:
    """Every recovery instance of the client's account and region, all pages (no cap).

    With source server ids, only theirs: the filter is sent 200 ids at a time.
    """
    size = page_size or PAGE_SIZE
    paginator = drs.get_paginator("describe_recovery_instances")
    filters: list[dict[str, Any]]
    if source_server_ids is None:
        filters = [{}]
    else:
        wanted = sorted(set(source_server_ids))
        filters = [{"sourceServerIDs": batch} for batch in chunks(wanted, RECOVERY_INSTANCE_FILTER_BATCH)]
    found: dict[str, dict[str, Any]] = {}
    for f in filters:
        for page in paginator.paginate(filters=f, PaginationConfig={"PageSize": size}):
            for ri in page.get("items", []):
                found[ri["recoveryInstanceID"]] = ri
    return list(found.values())


def get_source_servers(drs: Any, source_server_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The named source servers, 200 ids per DescribeSourceServers call."""
    servers: dict[str, dict[str, Any]] = {}
    paginator = drs.get_paginator("describe_source_servers")
    for batch in chunks(sorted(set(source_server_ids)), SOURCE_SERVER_BATCH):
        for page in paginator.paginate(filters={"sourceServerIDs": batch}, PaginationConfig={"PageSize": PAGE_SIZE}):
            for s in page.get("items", []):
                servers[s["sourceServerID"]] = s
    return servers


@dataclass(frozen=True)
class SourceExecution:
    executionId: str | None
    planName: str | None
    via: str  # "job-tag" or "execution-history": never the caller of a run


def _first(item: dict[str, Any], names: Iterable[str]) -> str | None:
    for name in names:
        value = item.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def find_source_execution(
    drs: Any,
    job_ids: Iterable[str | None],
    *,
    history_table: Any | None = None,
    history_index: str = "ByJobId",
    warnings: list[str] | None = None,
) -> dict[str, SourceExecution]:
    """The orchestrator execution (and plan) that launched each DRS job.

    DescribeJobs is filtered by up to 1,000 job ids per call; the execution id is the job's
    `drs-orchestrator:execution-id` tag. Jobs it leaves unresolved are looked up, when an execution-history
    table is configured, with one Query of its job-id index per job (never a Scan).
    """
    wanted = sorted({j for j in job_ids if j})
    found = _from_job_tags(drs, wanted)
    if history_table is not None:
        unresolved = [j for j in wanted if j not in found]
        found.update(_from_history(history_table, history_index, unresolved, warnings))
    return found


def _from_job_tags(drs: Any, job_ids: list[str]) -> dict[str, SourceExecution]:
    found: dict[str, SourceExecution] = {}
    paginator = drs.get_paginator("describe_jobs")
    for batch in chunks(job_ids, JOB_BATCH):
        for page in paginator.paginate(filters={"jobIDs": batch}, PaginationConfig={"PageSize": PAGE_SIZE}):
            for job in page.get("items", []):
                tags = job.get("tags") or {}
                execution_id = tags.get(EXECUTION_ID_TAG)
                if execution_id:
                    found[job["jobID"]] = SourceExecution(execution_id, tags.get(PLAN_NAME_TAG), "job-tag")
    return found


def _from_history(
    history_table: Any, history_index: str, job_ids: list[str], warnings: list[str] | None
) -> dict[str, SourceExecution]:
    found: dict[str, SourceExecution] = {}
    for job_id in job_ids:
        try:
            page = history_table.query(
                IndexName=history_index, KeyConditionExpression=Key(HISTORY_JOB_ID_ATTRIBUTE).eq(job_id), Limit=1
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if warnings is not None:
                warnings.append(f"execution history unreadable: {code}")
            logger.warning("execution-history lookup failed", extra={"error": code})
            return found
        items = page.get("Items") or []
        if items and (execution_id := _first(items[0], HISTORY_EXECUTION_ATTRIBUTES)):
            found[job_id] = SourceExecution(
                execution_id, _first(items[0], HISTORY_PLAN_ATTRIBUTES), "execution-history"
            )
    return found


def _launch_time(value: Any) -> str | None:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, str):
        parsed = parse_iso(value)
        return iso(parsed) if parsed else None
    return None


def recovery_ec2_fields(inst: dict[str, Any]) -> dict[str, Any]:
    tags = {t["Key"]: t["Value"] for t in inst.get("Tags", []) or []}
    return {
        "name": tags.get("Name"),
        "privateIp": inst.get("PrivateIpAddress"),
        "publicIp": inst.get("PublicIpAddress"),
        "instanceType": inst.get("InstanceType"),
        "launchTime": _launch_time(inst.get("LaunchTime")),
        "ec2InstanceState": (inst.get("State") or {}).get("Name"),
    }


def enrich_with_ec2_details(
    instances: list[dict[str, Any]],
    servers: dict[str, dict[str, Any]],
    account_id: str,
    region: str,
    *,
    access: Access,
    warnings: list[str],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """EC2 details in batched DescribeInstances calls.

    Returns (recovery EC2 fields by ec2InstanceID, source machine network by source server id). Recovery
    instances run in the DRS account and region; AWS-origin source machines in their origin (account,
    region), one batch per origin. An origin we cannot reach only costs its source-network fields.
    """
    recovery: dict[str, dict[str, Any]] = {}
    ids = [ri["ec2InstanceID"] for ri in instances if ri.get("ec2InstanceID")]
    if ids:
        ec2 = access.client("ec2", credentials=access.credentials, region=region)
        for iid, inst in describe_instances(ec2, ids).items():
            recovery[iid] = recovery_ec2_fields(inst)
    source_servers = [servers[ri["sourceServerID"]] for ri in instances if ri.get("sourceServerID") in servers]
    by_instance = enrich_with_ec2(source_servers, account_id, region, access=access, warnings=warnings)
    source: dict[str, dict[str, Any]] = {}
    for s in source_servers:
        details = by_instance.get(aws_instance_id(s) or "")
        if details:
            source[s["sourceServerID"]] = {
                "sourceVpcId": details.get("vpcId"),
                "sourceSubnetId": details.get("subnetId"),
                "sourceSecurityGroupIds": details.get("securityGroupIds"),
                "sourceInstanceProfile": details.get("instanceProfileArn"),
            }
    return recovery, source


# ------------------------------------------------------------------ terminate jobs
@dataclass(frozen=True)
class JobOutcome:
    """What a finished terminate job did to one recovery instance."""

    job_id: str
    terminated: bool
    error: str | None = None


def job_outcomes(drs: Any, rows: list[dict[str, Any]]) -> dict[str, JobOutcome]:
    """recoveryInstanceID -> what its finished terminate job did, for rows marked ``TERMINATING`` (instances
    whose job is still running are left out). One DescribeJobs per 100 jobs, and one DescribeJobLogItems per
    finished job that failed an instance (for DRS's reason)."""
    job_ids = sorted({r["terminateJobID"] for r in rows if r.get("terminateJobID")})
    out: dict[str, JobOutcome] = {}
    for batch in chunks(job_ids, TERMINATE_JOB_BATCH):
        for page in drs.get_paginator("describe_jobs").paginate(filters={"jobIDs": batch}):
            for job in page.get("items", []):
                if job.get("status") == "COMPLETED":
                    out.update(_outcomes_of(drs, job))
    return out


def _outcomes_of(drs: Any, job: dict[str, Any]) -> dict[str, JobOutcome]:
    job_id = job["jobID"]
    participants = [p for p in job.get("participatingServers", []) if p.get("recoveryInstanceID")]
    errors: dict[str, str] = {}
    if any(p.get("launchStatus") != "TERMINATED" for p in participants):
        errors = _job_errors(drs, job_id)
    return {
        p["recoveryInstanceID"]: JobOutcome(
            job_id, p.get("launchStatus") == "TERMINATED", errors.get(p.get("sourceServerID", ""))
        )
        for p in participants
    }


def _job_errors(drs: Any, job_id: str) -> dict[str, str]:
    """sourceServerID -> the error DRS logged for it in the job (CLEANUP_FAIL and the like)."""
    errors: dict[str, str] = {}
    for page in drs.get_paginator("describe_job_log_items").paginate(jobID=job_id):
        for item in page.get("items", []):
            data = item.get("eventData") or {}
            if str(item.get("event", "")).endswith("FAIL") and data.get("sourceServerID"):
                errors[data["sourceServerID"]] = str(data.get("rawError") or item["event"])[:500]
    return errors
