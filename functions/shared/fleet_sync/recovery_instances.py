"""Recovery-instance cache: the sync of one (account, region) and the sync's status record.

One cache row per source server that has a recovery instance, keyed by `sourceServerId` (a source server
has at most one recovery instance; a new launch replaces it). A sync of one target (account, region):

1. DescribeRecoveryInstances, every page (optionally filtered to the scoped run's source servers);
2. the source servers they came from: DescribeSourceServers filtered by up to 200 ids per call;
3. the recovery instances' EC2 details: DescribeInstances, up to 1,000 ids per call;
4. the source machines' network (VPC, subnet, security groups, instance profile): DescribeInstances in
   each origin (account, region), batched the same way, for AWS-origin servers;
5. the execution that launched each instance: DescribeJobs filtered by up to 1,000 job ids per call,
   read from the job tag `drs-orchestrator:execution-id` (plan name `drs-orchestrator:plan-name`), and,
   when an execution-history table is configured, one Query of its job-id index per job the tags did not
   resolve (never a Scan);
6. every row of the pair written with BatchWriteItem (`lastSyncTime` and the TTL move on each sync);
7. rows of the pair that the scan did not see are deleted, only after a successful full scan of that pair.

No call is made per instance. The scheduled entry point starts the state machine, which runs step 1-7 per
pair in its Distributed Map (`functions/scan_recovery_instances`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from .inventory import aws_instance_id, describe_instances, enrich_with_ec2
from .observability import logger
from .recovery_models import MACHINE_SUFFIX, SCOPED_DECISION, SYNC, RecoveryInstanceSyncInput
from .regions import iso, parse_iso, utc_now
from .runs import get_sync_status
from .settings import Settings
from .tables import query_all, to_dynamo
from .worker import WorkContext, WorkOutcome

__all__ = [
    "MACHINE_SUFFIX",
    "SCOPED_DECISION",
    "SYNC",
    "RecoveryInstanceSyncInput",
    "enrich_with_ec2_details",
    "find_source_execution",
    "get_recovery_instance_sync_status",
    "get_recovery_instances_for_region",
    "sync_all_recovery_instances",
    "sync_recovery_instances_for_account",
]

EXECUTION_ID_TAG = "drs-orchestrator:execution-id"
PLAN_NAME_TAG = "drs-orchestrator:plan-name"
HISTORY_JOB_ID_ATTRIBUTE = "jobId"  # the execution-history index's partition key
HISTORY_EXECUTION_ATTRIBUTES = ("executionId",)
HISTORY_PLAN_ATTRIBUTES = ("planName", "recoveryPlanName")

SCHEDULE_MINUTES = 5  # the state machine's schedule (template.yaml)
FRESH_MINUTES = 3 * SCHEDULE_MINUTES  # a pair synced longer ago than this is stale for queries
ROW_TTL_SECONDS = 24 * 3600  # rows of pairs no longer scanned age out; terminate still finds recent ones
PAGE_SIZE = 1000
SOURCE_SERVER_BATCH = 200  # DescribeSourceServers filters.sourceServerIDs maximum
RECOVERY_INSTANCE_FILTER_BATCH = 200  # DescribeRecoveryInstances filter ids per call
JOB_BATCH = 1000  # DescribeJobs filters.jobIDs maximum
ACCOUNT_REGION_INDEX = "ByAccountRegion"
EXECUTION_INDEX = "BySourceExecutionId"

# Always present on a row (the data-integrity property of the spec).
REQUIRED_FIELDS = (
    "sourceServerId",
    "recoveryInstanceId",
    "ec2InstanceId",
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
    "jobId",
    "pointInTimeSnapshotDateTime",
    "sourceExecutionId",
    "sourcePlanName",
    "sourceVpcId",
    "sourceSubnetId",
    "sourceSecurityGroupIds",
    "sourceInstanceProfile",
)
# Written by the sync itself; never a reason to call a row changed.
BOOKKEEPING_FIELDS = ("lastSyncTime", "expiresAt")
# Kept from the previous row of the same recovery instance when this sync cannot tell them: the execution
# (a job tag may be missing, a scoped run may have recorded it) and the source network (the source machine
# is often stopped or gone by the time its recovery instance runs).
CARRIED_FIELDS = (
    "sourceExecutionId",
    "sourcePlanName",
    "sourceVpcId",
    "sourceSubnetId",
    "sourceSecurityGroupIds",
    "sourceInstanceProfile",
)

ClientFactory = Callable[..., Any]  # (service, *, session=None, region=None) -> boto3 client
SessionFor = Callable[[str], Any]


def account_region(account_id: str, region: str) -> str:
    return f"{account_id}#{region}"


def chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# ------------------------------------------------------------------ DRS reads


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
    wanted = sorted(set(source_server_ids))
    servers: dict[str, dict[str, Any]] = {}
    paginator = drs.get_paginator("describe_source_servers")
    for batch in chunks(wanted, SOURCE_SERVER_BATCH):
        for page in paginator.paginate(filters={"sourceServerIDs": batch}, PaginationConfig={"PageSize": PAGE_SIZE}):
            for s in page.get("items", []):
                servers[s["sourceServerID"]] = s
    return servers


@dataclass(frozen=True)
class SourceExecution:
    executionId: str | None
    planName: str | None
    via: str  # "job-tag", "execution-history" or "scoped-run"


def _first(item: dict[str, Any], names: Iterable[str]) -> str | None:
    for name in names:
        value = item.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def find_source_execution(
    drs: Any,
    job_ids: Iterable[str],
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
    found: dict[str, SourceExecution] = {}
    paginator = drs.get_paginator("describe_jobs")
    for batch in chunks(wanted, JOB_BATCH):
        for page in paginator.paginate(filters={"jobIDs": batch}, PaginationConfig={"PageSize": PAGE_SIZE}):
            for job in page.get("items", []):
                tags = job.get("tags") or {}
                execution_id = tags.get(EXECUTION_ID_TAG)
                if execution_id:
                    found[job["jobID"]] = SourceExecution(execution_id, tags.get(PLAN_NAME_TAG), "job-tag")
    if history_table is None:
        return found
    for job_id in (j for j in wanted if j not in found):
        try:
            page = history_table.query(
                IndexName=history_index,
                KeyConditionExpression=Key(HISTORY_JOB_ID_ATTRIBUTE).eq(job_id),
                Limit=1,
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if warnings is not None:
                warnings.append(f"execution history unreadable: {code}")
            logger.warning("execution-history lookup failed", extra={"error": code})
            return found
        items = page.get("Items") or []
        if items and (execution_id := _first(items[0], HISTORY_EXECUTION_ATTRIBUTES)):
            plan_name = _first(items[0], HISTORY_PLAN_ATTRIBUTES)
            found[job_id] = SourceExecution(execution_id, plan_name, "execution-history")
    return found


# ------------------------------------------------------------------ EC2


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
        "ec2State": (inst.get("State") or {}).get("Name"),
    }


def enrich_with_ec2_details(
    instances: list[dict[str, Any]],
    servers: dict[str, dict[str, Any]],
    account_id: str,
    region: str,
    *,
    session: Any,
    session_for: SessionFor,
    client: ClientFactory,
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
        ec2 = client("ec2", session=session, region=region)
        for iid, inst in describe_instances(ec2, ids).items():
            recovery[iid] = recovery_ec2_fields(inst)
    source_servers = [servers[ri["sourceServerID"]] for ri in instances if ri.get("sourceServerID") in servers]
    by_instance = enrich_with_ec2(
        source_servers, account_id, region, session=session, session_for=session_for, client=client, warnings=warnings
    )
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


# ------------------------------------------------------------------ rows


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
    staging = server.get("stagingArea") or {}
    source_name = hints.get("hostname") or hints.get("fqdn") or ri_hints.get("hostname") or ri["sourceServerID"]
    state = ri.get("ec2InstanceState") or (ec2.get("ec2State") or "NOT_FOUND").upper()
    row: dict[str, Any] = {
        "sourceServerId": ri["sourceServerID"],
        "recoveryInstanceId": ri["recoveryInstanceID"],
        "ec2InstanceId": ri.get("ec2InstanceID") or ri["recoveryInstanceID"],
        "ec2InstanceState": state,
        "sourceServerName": source_name,
        "name": ec2.get("name") or source_name,
        "privateIp": ec2.get("privateIp"),
        "publicIp": ec2.get("publicIp"),
        "instanceType": ec2.get("instanceType"),
        "launchTime": ec2.get("launchTime"),
        "region": region,
        "accountId": account_id,
        "accountRegion": account_region(account_id, region),
        "replicationStagingAccountId": (
            staging.get("stagingAccountID") if staging.get("status") == "EXTENDED" else None
        )
        or account_id,
        "jobId": ri.get("jobID"),
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
    if not old or old.get("recoveryInstanceId") != row["recoveryInstanceId"]:
        return row
    kept = {k: old[k] for k in CARRIED_FIELDS if k not in row and old.get(k) not in (None, "", [])}
    return {**row, **kept} if kept else row


@dataclass
class CacheStore:
    """The cache table: the rows of one pair through its index, batched writes and deletes."""

    table: Any

    def pair_rows(self, account_id: str, region: str) -> dict[str, dict[str, Any]]:
        items = query_all(
            self.table,
            IndexName=ACCOUNT_REGION_INDEX,
            KeyConditionExpression=Key("accountRegion").eq(account_region(account_id, region)),
        )
        return {item["sourceServerId"]: item for item in items}

    def rows_of_execution(self, execution_id: str) -> list[dict[str, Any]]:
        return query_all(
            self.table, IndexName=EXECUTION_INDEX, KeyConditionExpression=Key("sourceExecutionId").eq(execution_id)
        )

    def put_rows(self, rows: list[dict[str, Any]]) -> None:
        with self.table.batch_writer(overwrite_by_pkeys=["sourceServerId"]) as batch:
            for row in rows:
                batch.put_item(Item=to_dynamo(row))

    def delete_rows(self, source_server_ids: Iterable[str]) -> int:
        ids = sorted(set(source_server_ids))
        with self.table.batch_writer(overwrite_by_pkeys=["sourceServerId"]) as batch:
            for sid in ids:
                batch.delete_item(Key={"sourceServerId": sid})
        return len(ids)


# ------------------------------------------------------------------ one (account, region)


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


def sync_recovery_instances_for_account(
    account_id: str,
    region: str,
    *,
    session: Any,
    session_for: SessionFor,
    client: ClientFactory,
    table: Any,
    history_table: Any | None = None,
    history_index: str = "ByJobId",
    source_server_ids: list[str] | None = None,
    execution_id: str | None = None,
    now: datetime | None = None,
) -> PairSyncResult:
    """Sync one target (account, region) into the cache; the Distributed Map's work per item.

    With `source_server_ids` (a scoped wave-completion run) only those servers' instances are read and
    written, `execution_id` is recorded as their `sourceExecutionId`, and no other row is touched.
    Raises on any DRS or EC2 failure of the pair itself, before anything is deleted.
    """
    scoped = source_server_ids is not None
    result = PairSyncResult(account_id, region, scoped=scoped)
    drs = client("drs", session=session, region=region)
    instances = get_recovery_instances_for_region(drs, source_server_ids)
    servers = get_source_servers(drs, [ri["sourceServerID"] for ri in instances])
    recovery_ec2, source_network = enrich_with_ec2_details(
        instances,
        servers,
        account_id,
        region,
        session=session,
        session_for=session_for,
        client=client,
        warnings=result.warnings,
    )
    executions = find_source_execution(
        drs,
        [ri.get("jobID") for ri in instances],
        history_table=history_table,
        history_index=history_index,
        warnings=result.warnings,
    )
    store = CacheStore(table)
    existing = store.pair_rows(account_id, region)
    stamp = now or utc_now()
    rows: list[dict[str, Any]] = []
    for ri in sorted(instances, key=lambda r: r["sourceServerID"]):
        execution = executions.get(ri.get("jobID") or "")
        if scoped and execution_id:
            execution = SourceExecution(execution_id, execution.planName if execution else None, "scoped-run")
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
        old = existing.get(row["sourceServerId"])
        row = carry_over(row, old)
        result.executions_resolved += int("sourceExecutionId" in row)
        result.new += int(old is None)
        result.changed += int(old is None or content(old) != content(row))
        rows.append(row)
    result.seen = len(rows)
    store.put_rows(rows)
    result.written = len(rows)
    if not scoped:
        # Reached only when the whole scan of this pair succeeded: every failure above raised first.
        seen = {r["sourceServerId"] for r in rows}
        result.removed = store.delete_rows(sid for sid in existing if sid not in seen)
    if result.ec2_missing:
        result.warnings.append(f"{result.ec2_missing} recovery instance(s) without EC2 details")
    logger.info("recovery instances synced", extra={"pair": account_region(account_id, region), **result.counts()})
    return result


def execution_history_table(settings: Settings, ddb: Any) -> Any | None:
    return ddb.Table(settings.execution_history_table) if settings.execution_history_table else None


def recovery_instance_work(ctx: WorkContext) -> WorkOutcome:
    """The worker Lambda's work on one (account, region): a full sync, or the scoped run's servers."""
    item = ctx.item
    options = item.options or {}
    result = sync_recovery_instances_for_account(
        item.accountId,
        item.region,
        session=ctx.session,
        session_for=ctx.session_for,
        client=ctx.client,
        table=ctx.table(ctx.settings.recovery_instances_table),
        history_table=execution_history_table(ctx.settings, ctx.ddb),
        history_index=ctx.settings.execution_history_index,
        source_server_ids=options.get("sourceServerIds"),
        execution_id=options.get("executionId"),
    )
    return WorkOutcome(server_count=result.seen, counts=result.counts(), warnings=result.warnings)


# ------------------------------------------------------------------ the whole fleet and its status


def sync_all_recovery_instances(sync_input: dict[str, Any] | None = None, settings: Settings | None = None) -> dict:
    """Start the recovery-instance sync state machine (every active pair of every target account).

    The state machine is the sync: it plans, fans out one worker per pair, summarizes and records the
    status. This returns at once with the execution ARN.
    """
    from .operations import start_sync  # operations -> syncs -> recovery_models; no cycle at import
    from .settings import get_settings

    settings = settings or get_settings()
    return start_sync(SYNC, sync_input, settings)


def start_wave_completion_sync(
    account_id: str, region: str, source_server_ids: list[str], execution_id: str, settings: Settings | None = None
) -> dict:
    """Start a scoped run for one completed wave: its servers' recovery instances, tagged with the execution."""
    payload = {
        "accountId": account_id,
        "region": region,
        "sourceServerIds": list(source_server_ids),
        "executionId": execution_id,
    }
    RecoveryInstanceSyncInput.model_validate(payload)  # fail here, not in the state machine's first state
    return sync_all_recovery_instances(payload, settings)


STATUS_BY_OUTCOME = {"complete": "healthy", "partial": "partial", "failed": "error"}


def sync_status_record(item: dict[str, Any] | None, *, now: datetime | None = None) -> dict[str, Any]:
    """The status record of the last finished full run, from the sync-state item FinishRun wrote."""
    now = now or utc_now()
    if not item:
        return {
            "status": "no_sync_yet",
            "lastSyncTime": None,
            "instancesUpdated": 0,
            "instancesRemoved": 0,
            "regionsScanned": 0,
            "pairsScanned": 0,
            "errors": [],
            "errorCount": 0,
            "fresh": False,
            "freshMinutes": FRESH_MINUTES,
        }
    summary = item.get("summary") or {}
    finished = parse_iso(item.get("finishedAt"))
    age = (now - finished).total_seconds() if finished else None
    work_items = summary.get("workItems") or []
    return {
        "status": STATUS_BY_OUTCOME.get(str(item.get("outcome")), "error"),
        "lastSyncTime": item.get("finishedAt"),
        "instancesUpdated": int(summary.get("instancesUpdated", 0)),
        "instancesRemoved": int(summary.get("instancesRemoved", 0)),
        "regionsScanned": len({w["region"] for w in work_items}),
        "pairsScanned": int(item.get("workItemCount", len(work_items))),
        "errors": summary.get("errors", []),
        "errorCount": int(item.get("errorCount", 0)),
        "decision": item.get("decision"),
        "executionArn": item.get("executionArn"),
        "durationMs": int(item.get("durationMs", 0)),
        "ageSeconds": None if age is None else max(0, int(age)),
        "fresh": age is not None and age <= FRESH_MINUTES * 60,
        "freshMinutes": FRESH_MINUTES,
    }


def get_recovery_instance_sync_status(
    settings: Settings | None = None, *, state_table: Any | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Status of the last finished scheduled (full) run: `healthy`, `partial`, `error` or `no_sync_yet`.

    Read from the sync-state item `status#recovery-instances` that FinishRun writes (one GetItem). Scoped
    wave-completion runs never replace it.
    """
    if state_table is None:
        from . import aws
        from .settings import get_settings

        settings = settings or get_settings()
        state_table = aws.dynamodb().Table(settings.sync_state_table)
    return sync_status_record(get_sync_status(state_table, SYNC), now=now)


# ------------------------------------------------------------------ helpers for tests and the bench


def missing_fields(row: dict[str, Any]) -> list[str]:
    return [f for f in REQUIRED_FIELDS if row.get(f) in (None, "")]
