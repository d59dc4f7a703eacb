"""Tag sync: copy each EC2 instance's tags onto the DRS source servers replicating it, so recovered
instances carry the right tags.

Data-management side only: this module calls TagResource, UntagResource and UpdateLaunchConfiguration.

Per (account, region) work item:
1. the pair's servers, from the inventory when the pair was scanned successfully within
   INVENTORY_FRESH_MINUTES, else DescribeSourceServers (1,000 per page, every page);
2. their instances' tags, one batched DescribeInstances per origin (account, region) - the instance may
   run in another account or region than the DRS server;
3. desired tags = EC2 tags minus `aws:` keys, plus provenance tags (`source:account`, `source:region`,
   `source:instance-id`, `source:instance-type`) unless TAG_PROVENANCE is false;
4. TagResource only where a tag differs; UntagResource only for keys this sync wrote earlier and the
   instance no longer has. The keys this sync manages are remembered per server in the sync-state table
   (pk `tags#{accountId}#{region}`, sk the server id), so a key someone else wrote is never removed;
5. copyTags on the launch configuration where it is off, checked once per server (and again weekly),
   not on every run;
6. new tags written through to the server's inventory row (`sourceTags` only), so the next run that
   reads the inventory sees them and writes nothing.
DISCONNECTED servers and servers with no EC2 instance are skipped and counted by reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from . import aws
from .inventory import (
    InventoryStore,
    account_region,
    aws_instance_id,
    describe_instances,
    describe_source_servers,
    is_pair_fresh,
    origin_of,
)
from .models import ItemResult, WorkItem
from .observability import logger
from .regions import THROTTLED, RegionStatus, iso, parse_iso, status_for_error, utc_now
from .settings import Settings
from .tables import query_all
from .tags_spec import skipped_count_key
from .worker import WorkContext, WorkOutcome, run_work_item

PROVENANCE_KEYS = ("source:account", "source:region", "source:instance-id", "source:instance-type")
MAX_TAGS = 50  # tags per DRS resource
TAG_THREADS = 8
COPY_TAGS_RECHECK = timedelta(days=7)  # someone may turn copyTags off again; look once a week, not every run

# Reasons a server is not tagged (summary `skipped`).
DISCONNECTED = "disconnected"
NOT_ON_EC2 = "notOnEc2"  # on-premises or another cloud: no awsInstanceID
INSTANCE_NOT_FOUND = "instanceNotFound"  # the instance is gone (terminated long ago)
EC2_UNAVAILABLE = "ec2Unavailable"  # the origin account/region could not be read
TAG_ERROR = "tagError"  # DRS refused the write for this server (e.g. it was deleted meanwhile)


def tag_state_pk(account_id: str, region: str) -> str:
    return f"tags#{account_id}#{region}"


@dataclass(frozen=True)
class Server:
    """What the tag sync needs of one DRS source server, from DRS or from its inventory row."""

    server_id: str
    arn: str
    replication_state: str
    instance_id: str | None
    origin: tuple[str, str]  # (account, region) of its EC2 instance
    tags: dict[str, str]


def server_arn(account_id: str, region: str, server_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:drs:{region}:{account_id}:source-server/{server_id}"


def servers_from_drs(items: list[dict[str, Any]], account_id: str, region: str) -> list[Server]:
    return [
        Server(
            server_id=s["sourceServerID"],
            arn=s.get("arn") or server_arn(account_id, region, s["sourceServerID"]),
            replication_state=(s.get("dataReplicationInfo") or {}).get("dataReplicationState") or "UNKNOWN",
            instance_id=aws_instance_id(s),
            origin=origin_of(s, account_id, region),
            tags=dict(s.get("tags") or {}),
        )
        for s in items
    ]


def servers_from_inventory(rows: dict[str, dict[str, Any]], account_id: str, region: str) -> list[Server]:
    return [
        Server(
            server_id=r["sourceServerID"],
            arn=r.get("arn") or server_arn(account_id, region, r["sourceServerID"]),
            replication_state=r.get("replicationState") or "UNKNOWN",
            instance_id=r.get("awsInstanceID"),
            origin=(r.get("sourceAccountId") or account_id, r.get("sourceRegion") or region),
            tags={str(k): str(v) for k, v in (r.get("sourceTags") or {}).items()},
        )
        for r in rows.values()
    ]


def desired_tags(instance: dict[str, Any], origin: tuple[str, str], *, provenance: bool) -> dict[str, str]:
    """EC2 tags minus `aws:` keys, plus provenance; at most MAX_TAGS (provenance first, then by key)."""
    ec2 = {
        t["Key"]: t.get("Value", "")
        for t in instance.get("Tags", []) or []
        if not t["Key"].lower().startswith("aws:") and t["Key"] not in PROVENANCE_KEYS
    }
    out: dict[str, str] = {}
    if provenance:
        out = {
            "source:account": origin[0],
            "source:region": origin[1],
            "source:instance-id": instance["InstanceId"],
            "source:instance-type": instance.get("InstanceType") or "unknown",
        }
    for k in sorted(ec2):
        if len(out) >= MAX_TAGS:
            break
        out[k] = ec2[k]
    return out


@dataclass(frozen=True)
class TagChange:
    to_set: dict[str, str]
    to_remove: list[str]
    managed_after: frozenset[str]

    @property
    def changed(self) -> bool:
        return bool(self.to_set or self.to_remove)


def plan_tag_change(current: dict[str, str], desired: dict[str, str], managed: frozenset[str]) -> TagChange:
    """What to write so the server carries `desired`, removing only keys this sync manages.

    A key is managed once this sync has written it; a key already carrying the desired value that this
    sync never wrote stays someone else's, so it is never removed later.
    """
    to_set = {k: v for k, v in desired.items() if current.get(k) != v}
    to_remove = sorted(k for k in managed if k not in desired and k in current)
    managed_after = frozenset((managed & set(desired)) | set(to_set))
    return TagChange(to_set, to_remove, managed_after)


# ------------------------------------------------------------------ per-server state (sync-state table)


@dataclass
class TagStateStore:
    table: Any

    def load(self, account_id: str, region: str) -> dict[str, dict[str, Any]]:
        items = query_all(self.table, KeyConditionExpression=Key("pk").eq(tag_state_pk(account_id, region)))
        return {item["sk"]: item for item in items}

    def save(
        self, account_id: str, region: str, server_id: str, managed: frozenset[str], copy_tags_checked_at: str | None
    ) -> None:
        item: dict[str, Any] = {
            "pk": tag_state_pk(account_id, region),
            "sk": server_id,
            "managedKeys": sorted(managed),
            "updatedAt": iso(utc_now()),
        }
        if copy_tags_checked_at:
            item["copyTagsCheckedAt"] = copy_tags_checked_at
        self.table.put_item(Item=item)

    def delete(self, account_id: str, region: str, server_ids: list[str]) -> None:
        if not server_ids:
            return
        with self.table.batch_writer() as batch:
            for sid in server_ids:
                batch.delete_item(Key={"pk": tag_state_pk(account_id, region), "sk": sid})


# ------------------------------------------------------------------ one pair


@dataclass
class TagReport:
    counts: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def skip(self, reason: str, n: int = 1) -> None:
        self.counts[skipped_count_key(reason)] += n


SessionFor = Callable[[str], Any]


def read_instances(
    servers: list[Server],
    account_id: str,
    *,
    session: Any,
    session_for: SessionFor,
    client: Callable[..., Any],
    report: TagReport,
) -> tuple[dict[tuple[str, str, str], dict[str, Any]], set[tuple[str, str]]]:
    """EC2 instances by (origin account, origin region, instance id), one batched DescribeInstances per
    origin; also the origins that could not be read."""
    by_origin: dict[tuple[str, str], set[str]] = defaultdict(set)
    for s in servers:
        if s.instance_id:
            by_origin[s.origin].add(s.instance_id)
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    unreadable: set[tuple[str, str]] = set()
    for (origin_account, origin_region), ids in sorted(by_origin.items()):
        try:
            origin_session = session if origin_account == account_id else session_for(origin_account)
            ec2 = client("ec2", session=origin_session, region=origin_region)
            for iid, inst in describe_instances(ec2, ids).items():
                found[(origin_account, origin_region, iid)] = inst
        except ClientError as exc:
            if status_for_error(aws.error_code(exc)) == THROTTLED:
                raise
            unreadable.add((origin_account, origin_region))
            report.warnings.append(f"EC2 unreadable in {origin_account}/{origin_region}: {aws.error_code(exc)}")
            logger.warning(
                "EC2 tags unavailable",
                extra={"originAccount": origin_account, "originRegion": origin_region, "error": aws.error_code(exc)},
            )
    return found, unreadable


def sync_pair_tags(
    account_id: str,
    region: str,
    servers: list[Server],
    *,
    drs: Any,
    session: Any,
    session_for: SessionFor,
    client: Callable[..., Any],
    state: TagStateStore,
    inventory: InventoryStore | None,
    provenance: bool,
    now: datetime | None = None,
) -> TagReport:
    """Bring every eligible server of one (account, region) to its desired tags and copyTags=True."""
    now = now or utc_now()
    report = TagReport()
    known = state.load(account_id, region)
    eligible: list[Server] = []
    for s in servers:
        if s.replication_state == "DISCONNECTED":
            report.skip(DISCONNECTED)
        elif not s.instance_id:
            report.skip(NOT_ON_EC2)
        else:
            eligible.append(s)
    instances, unreadable = read_instances(
        eligible, account_id, session=session, session_for=session_for, client=client, report=report
    )
    work: list[tuple[Server, dict[str, Any]]] = []
    for s in eligible:
        if s.origin in unreadable:
            report.skip(EC2_UNAVAILABLE)
            continue
        inst = instances.get((*s.origin, s.instance_id or ""))
        if inst is None:
            report.skip(INSTANCE_NOT_FOUND)
            continue
        work.append((s, inst))

    def failed(s: Server, exc: ClientError, counts: Counter[str]) -> None:
        if status_for_error(aws.error_code(exc)) == THROTTLED:
            raise exc  # the item is handed back to the state machine, which retries it
        counts[skipped_count_key(TAG_ERROR)] += 1
        report.warnings.append(f"{s.server_id}: {aws.error_code(exc)}: {aws.error_message(exc, 200)}")

    def apply(pair: tuple[Server, dict[str, Any]]) -> Counter[str]:
        s, inst = pair
        counts: Counter[str] = Counter()
        row = known.get(s.server_id) or {}
        managed = frozenset(row.get("managedKeys") or ())
        change = plan_tag_change(s.tags, desired_tags(inst, s.origin, provenance=provenance), managed)
        try:
            if change.to_set:
                drs.tag_resource(resourceArn=s.arn, tags=change.to_set)
                counts["tagsAdded"] += len(change.to_set)
            if change.to_remove:
                drs.untag_resource(resourceArn=s.arn, tagKeys=change.to_remove)
                counts["tagsRemoved"] += len(change.to_remove)
        except ClientError as exc:
            failed(s, exc, counts)
            return counts
        checked_at = row.get("copyTagsCheckedAt")
        last_check = parse_iso(checked_at)
        if last_check is None or last_check < now - COPY_TAGS_RECHECK:
            try:
                config = drs.get_launch_configuration(sourceServerID=s.server_id)
                counts["launchConfigsChecked"] += 1
                if not config.get("copyTags"):
                    drs.update_launch_configuration(sourceServerID=s.server_id, copyTags=True)
                    counts["launchConfigsUpdated"] += 1
                checked_at = iso(now)
            except ClientError as exc:
                failed(s, exc, counts)  # the tags went through: still remember the keys written
        if change.changed:
            counts["serversTagged"] += 1
            if inventory is not None:
                tags = {k: v for k, v in {**s.tags, **change.to_set}.items() if k not in change.to_remove}
                inventory_tags_written(inventory, account_id, region, s.server_id, tags)
        else:
            counts["serversUnchanged"] += 1
        if change.managed_after != managed or checked_at != row.get("copyTagsCheckedAt"):
            state.save(account_id, region, s.server_id, change.managed_after, checked_at)
        return counts

    with ThreadPoolExecutor(max_workers=TAG_THREADS) as pool:
        for counts in pool.map(apply, work):
            report.counts.update(counts)
    # Forget servers that left the pair (the listing is complete: DRS, or an inventory fresh for the pair).
    state.delete(account_id, region, sorted(set(known) - {s.server_id for s in servers}))
    return report


def inventory_tags_written(inventory: InventoryStore, account_id: str, region: str, server_id: str, tags: dict) -> None:
    """Write a server's new tags through to its inventory row: `sourceTags` only, and only if the row exists."""
    try:
        inventory.table.update_item(
            Key={"accountRegion": account_region(account_id, region), "sourceServerID": server_id},
            UpdateExpression="SET sourceTags = :t",
            ConditionExpression="attribute_exists(sourceServerID)",
            ExpressionAttributeValues={":t": tags},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


# ------------------------------------------------------------------ the worker


def list_pair_servers(ctx: WorkContext, drs: Any) -> tuple[list[Server], str]:
    """The pair's servers from the inventory when it is fresh for this pair, else from DRS."""
    item, settings = ctx.item, ctx.settings
    row = ctx.table(settings.region_status_table).get_item(Key={"accountId": item.accountId, "region": item.region})
    status = RegionStatus.from_item(row["Item"]) if row.get("Item") else None
    if is_pair_fresh(status, settings.inventory_fresh_minutes):
        rows = InventoryStore(ctx.table(settings.inventory_table)).pair_rows(item.accountId, item.region)
        return servers_from_inventory(rows, item.accountId, item.region), "inventory"
    return servers_from_drs(describe_source_servers(drs), item.accountId, item.region), "drs"


def tag_work(ctx: WorkContext) -> WorkOutcome:
    item = ctx.item
    drs = ctx.client("drs")
    servers, source = list_pair_servers(ctx, drs)
    report = sync_pair_tags(
        item.accountId,
        item.region,
        servers,
        drs=drs,
        session=ctx.session,
        session_for=ctx.session_for,
        client=ctx.client,
        state=TagStateStore(ctx.table(ctx.settings.sync_state_table)),
        inventory=InventoryStore(ctx.table(ctx.settings.inventory_table)),
        provenance=ctx.settings.tag_provenance,
    )
    report.counts["pairsFromInventory" if source == "inventory" else "pairsFromDrs"] += 1
    logger.info("tags synced", extra={"source": source, "servers": len(servers), "counts": dict(report.counts)})
    counts = {k: int(report.counts.get(k, 0)) for k in ("serversTagged", "tagsAdded", "tagsRemoved")}
    counts.update({k: int(v) for k, v in report.counts.items() if k not in counts})
    return WorkOutcome(server_count=len(servers), counts=counts, warnings=report.warnings)


def handle_drs_tag_sync(item: WorkItem, settings: Settings) -> ItemResult:
    """The tag sync's worker: one (account, active region) of the plan."""
    return run_work_item(item, settings, tag_work)
