"""Tagging one (account, region): each EC2 instance's tags copied onto the DRS source servers replicating it,
so recovered instances carry the right tags. This module and the staging sync's `extend` are the only ones
that write to DRS.

1. desired tags = EC2 tags minus `aws:` keys, plus provenance tags (`source:account`, `source:region`,
   `source:instance-id`, `source:instance-type`) unless TAG_PROVENANCE is false;
2. TagResource only where a tag differs; UntagResource only for keys this sync wrote earlier and the
   instance no longer has. The keys this sync manages are remembered per server in the sync-state table,
   so a key someone else wrote is never removed;
3. copyTags=True written to the launch configuration once per server (and again weekly), unread: it is idempotent;
4. new tags written through to the server's inventory row (`sourceTags` only), so the next run that reads
   the inventory sees them and writes nothing.
DISCONNECTED servers and servers with no EC2 instance are skipped and counted by reason.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ...core import aws
from ...core.clock import iso, parse_iso, utc_now
from ...core.errors import OriginNotTrusted
from ...core.observability import logger
from ...core.reads import Access, aws_instance_id, describe_instances, origin_of
from ...core.regions import is_throttling
from ...run.sync_state import SyncStateStore, TagState
from ..inventory.store import InventoryStore
from .spec import skipped_count_key

PROVENANCE_KEYS = ("source:account", "source:region", "source:instance-id", "source:instance-type")
MAX_TAGS = 50  # tags per DRS resource
TAG_THREADS = 8
COPY_TAGS_RECHECK = timedelta(days=7)  # someone may turn copyTags off again; look once a week, not every run

# Reasons a server is not tagged (summary `skipped`).
DISCONNECTED = "disconnected"
NOT_ON_EC2 = "notOnEc2"  # on-premises or another cloud: no awsInstanceID
INSTANCE_NOT_FOUND = "instanceNotFound"  # the instance is gone (terminated long ago)
EC2_UNAVAILABLE = "ec2Unavailable"  # the origin account/region could not be read
ORIGIN_NOT_TRUSTED = "originNotTrusted"  # the origin account does not let this DRS account read its EC2
TAG_ERROR = "tagError"  # DRS refused the write for this server (e.g. it was deleted meanwhile)

Instances = dict[tuple[str, str, str], dict[str, Any]]  # (origin account, origin region, instance id) -> instance


@dataclass(frozen=True)
class Server:
    """What the tag sync needs of one DRS source server, from DRS or from its inventory row."""

    server_id: str
    arn: str
    replication_state: str
    instance_id: str | None
    origin: tuple[str, str]  # (account, region) of its EC2 instance
    tags: dict[str, str]


def server_arn(account_id: str, region: str, server_id: str) -> str:
    return f"arn:{aws.partition(region)}:drs:{region}:{account_id}:source-server/{server_id}"


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


@dataclass
class TagReport:
    counts: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    untrusted: set[tuple[str, str]] = field(default_factory=set)  # origins this DRS account may not read

    def skip(self, reason: str, n: int = 1) -> None:
        self.counts[skipped_count_key(reason)] += n


def read_instances(
    servers: list[Server],
    account_id: str,
    *,
    access: Access,
    report: TagReport,
) -> tuple[Instances, set[tuple[str, str]]]:
    """EC2 instances by (origin account, origin region, instance id), one batched DescribeInstances per
    origin; also the origins that could not be read."""
    by_origin: dict[tuple[str, str], set[str]] = defaultdict(set)
    for s in servers:
        if s.instance_id:
            by_origin[s.origin].add(s.instance_id)
    found: Instances = {}
    unreadable: set[tuple[str, str]] = set()
    for (origin_account, origin_region), ids in sorted(by_origin.items()):
        try:
            ec2 = access.client("ec2", credentials=access.in_account(origin_account, account_id), region=origin_region)
            for iid, inst in describe_instances(ec2, ids).items():
                found[(origin_account, origin_region, iid)] = inst
        except OriginNotTrusted as exc:
            report.untrusted.add((origin_account, origin_region))
            report.warnings.append(f"EC2 not read in {origin_account}/{origin_region}: OriginNotTrusted: {exc}")
            logger.warning("EC2 origin not trusted", extra={"originAccount": origin_account, "error": str(exc)})
        except ClientError as exc:
            if is_throttling(aws.error_code(exc)):
                raise
            unreadable.add((origin_account, origin_region))
            report.warnings.append(f"EC2 unreadable in {origin_account}/{origin_region}: {aws.error_code(exc)}")
            logger.warning(
                "EC2 tags unavailable",
                extra={"originAccount": origin_account, "originRegion": origin_region, "error": aws.error_code(exc)},
            )
    return found, unreadable


def eligible_servers(servers: list[Server], report: TagReport) -> list[Server]:
    """The servers worth tagging: connected, and on EC2 (the others are counted by reason)."""
    eligible: list[Server] = []
    for s in servers:
        if s.replication_state == "DISCONNECTED":
            report.skip(DISCONNECTED)
        elif not s.instance_id:
            report.skip(NOT_ON_EC2)
        else:
            eligible.append(s)
    return eligible


def with_instances(
    servers: list[Server], instances: Instances, unreadable: set[tuple[str, str]], report: TagReport
) -> list[tuple[Server, dict[str, Any]]]:
    """Each server with its instance; servers whose origin was unreadable or whose instance is gone are counted."""
    work: list[tuple[Server, dict[str, Any]]] = []
    for s in servers:
        if s.origin in report.untrusted:
            report.skip(ORIGIN_NOT_TRUSTED)
            continue
        if s.origin in unreadable:
            report.skip(EC2_UNAVAILABLE)
            continue
        inst = instances.get((*s.origin, s.instance_id or ""))
        if inst is None:
            report.skip(INSTANCE_NOT_FOUND)
            continue
        work.append((s, inst))
    return work


@dataclass
class PairTagger:
    """Brings the servers of one (account, region) to their desired tags, one server at a time (threads). What
    changed in its tag state is kept in `changed_states` and written in batches (`save_states`)."""

    account_id: str
    region: str
    drs: Any
    state: SyncStateStore
    inventory: InventoryStore | None
    provenance: bool
    now: datetime
    known: dict[str, dict[str, Any]]
    report: TagReport
    changed_states: list[TagState] = field(default_factory=list)
    _states_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def apply(self, pair: tuple[Server, dict[str, Any]]) -> Counter[str]:
        s, inst = pair
        counts: Counter[str] = Counter()
        row = self.known.get(s.server_id) or {}
        managed = frozenset(row.get("managedKeys") or ())
        change = plan_tag_change(s.tags, desired_tags(inst, s.origin, provenance=self.provenance), managed)
        try:
            self._write(s, change, counts)
        except ClientError as exc:
            self._failed(s, exc, counts)
            return counts
        checked_at = self._check_copy_tags(s, row.get("copyTagsCheckedAt"), counts)
        if change.changed:
            counts["serversTagged"] += 1
            if self.inventory is not None:
                tags = {k: v for k, v in {**s.tags, **change.to_set}.items() if k not in change.to_remove}
                self.inventory.write_tags(self.account_id, self.region, s.server_id, tags)
        else:
            counts["serversUnchanged"] += 1
        if change.managed_after != managed or checked_at != row.get("copyTagsCheckedAt"):
            with self._states_lock:
                self.changed_states.append(TagState(s.server_id, change.managed_after, checked_at))
        return counts

    def save_states(self) -> None:
        with self._states_lock:
            states, self.changed_states = self.changed_states, []
        self.state.save_tag_states(self.account_id, self.region, states)

    def _write(self, s: Server, change: TagChange, counts: Counter[str]) -> None:
        drs = self.drs
        if change.to_set:
            drs.tag_resource(resourceArn=s.arn, tags=change.to_set)
            counts["tagsAdded"] += len(change.to_set)
        if change.to_remove:
            drs.untag_resource(resourceArn=s.arn, tagKeys=change.to_remove)
            counts["tagsRemoved"] += len(change.to_remove)

    def _check_copy_tags(self, s: Server, checked_at: str | None, counts: Counter[str]) -> str | None:
        """copyTags=True on the server's launch configuration, set once per COPY_TAGS_RECHECK. Written without
        reading it first: the write is idempotent, so one call does what a read and a write would."""
        last_check = parse_iso(checked_at)
        if last_check is not None and last_check >= self.now - COPY_TAGS_RECHECK:
            return checked_at
        drs = self.drs
        try:
            drs.update_launch_configuration(sourceServerID=s.server_id, copyTags=True)
            counts["launchConfigsUpdated"] += 1
            return iso(self.now)
        except ClientError as exc:
            self._failed(s, exc, counts)  # the tags went through: still remember the keys written
            return checked_at

    def _failed(self, s: Server, exc: ClientError, counts: Counter[str]) -> None:
        if is_throttling(aws.error_code(exc)):
            raise exc  # the item is handed back to the state machine, which retries it
        counts[skipped_count_key(TAG_ERROR)] += 1
        self.report.warnings.append(f"{s.server_id}: {aws.error_code(exc)}: {aws.error_message(exc, 200)}")


def sync_pair_tags(
    account_id: str,
    region: str,
    servers: list[Server],
    *,
    access: Access,
    state: SyncStateStore,
    inventory: InventoryStore | None,
    provenance: bool,
    now: datetime | None = None,
) -> TagReport:
    """Bring every eligible server of one (account, region) to its desired tags and copyTags=True."""
    report = TagReport()
    known = state.tag_state(account_id, region)
    eligible = eligible_servers(servers, report)
    instances, unreadable = read_instances(eligible, account_id, access=access, report=report)
    drs = access.client("drs", credentials=access.credentials, region=region)
    tagger = PairTagger(account_id, region, drs, state, inventory, provenance, now or utc_now(), known, report)
    try:
        with ThreadPoolExecutor(max_workers=TAG_THREADS) as pool:
            for counts in pool.map(tagger.apply, with_instances(eligible, instances, unreadable, report)):
                report.counts.update(counts)
    finally:  # what was written to DRS is remembered even when a later server fails the pair
        tagger.save_states()
    # Forget servers that left the pair (the listing is complete: DRS, or an inventory fresh for the pair).
    state.forget_tag_state(account_id, region, sorted(set(known) - {s.server_id for s in servers}))
    return report
