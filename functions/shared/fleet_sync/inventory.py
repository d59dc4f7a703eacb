"""Source-server inventory: scan one (account, region), enrich with EC2, write with failback topology kept.

One row per source server, keyed by the DRS account and region holding it (`accountRegion`) and the
server id, so two accounts can never overwrite each other. The original replication topology
(`originalSourceRegion`, `originalAccountId`, `originalReplicationConfigTemplateId`) is captured when a
server is first seen and is written with `if_not_exists` on every write path, so neither a scheduled
sync nor a fallback write can lose it. Rows of servers that left DRS are removed only within the pair
just scanned, and only when that scan succeeded.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from .observability import logger
from .regions import RegionStatus, iso, parse_iso, utc_now
from .tables import key, query_all, to_dynamo

PAGE_SIZE = 1000
EC2_BATCH = 1000
TOPOLOGY_FIELDS = (
    "originalSourceRegion",
    "originalAccountId",
    "originalReplicationConfigTemplateId",
    "topologyLastUpdated",
)
# Bookkeeping written by us, not read from DRS: never a reason to rewrite a row.
BOOKKEEPING_FIELDS = (*TOPOLOGY_FIELDS, "lastUpdated", "firstSeen", "accountRegion", "sourceServerID")
REQUIRED_FIELDS = (
    "sourceServerID",
    "replicationRegion",
    "replicationState",
    "hostname",
    "sourceAccountId",
    "sourceTags",
)
WRITE_THREADS = 8


class ServerNotFound(LookupError):
    """No inventory row holds this source server."""


def account_region(account_id: str, region: str) -> str:
    return f"{account_id}#{region}"


def item_key(pair: str, server_id: str) -> dict[str, str]:
    return key("INVENTORY_TABLE", pair, server_id)


# ------------------------------------------------------------------ DRS and EC2 reads


def describe_source_servers(drs: Any) -> list[dict[str, Any]]:
    """Every source server of the client's account and region, 1,000 per page, no cap."""
    servers: list[dict[str, Any]] = []
    for page in drs.get_paginator("describe_source_servers").paginate(
        filters={}, PaginationConfig={"PageSize": PAGE_SIZE}
    ):
        servers.extend(page.get("items", []))
    return servers


def region_template_id(drs: Any) -> str | None:
    """The region's replication configuration template (DRS keeps one default template per region)."""
    for page in drs.get_paginator("describe_replication_configuration_templates").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    ):
        for tpl in page.get("items", []):
            return tpl.get("replicationConfigurationTemplateID")
    return None


_MISSING_IDS = re.compile(r"i-[0-9a-f]+")


def describe_instances(ec2: Any, instance_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """EC2 instances by id in batches of 1,000 ids per call; ids that no longer exist are dropped."""
    wanted = sorted(set(instance_ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), EC2_BATCH):
        batch = wanted[start : start + EC2_BATCH]
        for _ in range(3):  # each retry drops the ids EC2 named as missing
            if not batch:
                break
            try:
                for page in ec2.get_paginator("describe_instances").paginate(InstanceIds=batch):
                    for reservation in page.get("Reservations", []):
                        for inst in reservation.get("Instances", []):
                            found[inst["InstanceId"]] = inst
                break
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
                    raise
                missing = set(_MISSING_IDS.findall(exc.response["Error"].get("Message", "")))
                if not missing:
                    raise
                batch = [i for i in batch if i not in missing]
    return found


def ec2_details(inst: dict[str, Any]) -> dict[str, Any]:
    tags = {t["Key"]: t["Value"] for t in inst.get("Tags", []) or []}
    out = {
        "ec2InstanceType": inst.get("InstanceType"),
        "ec2State": (inst.get("State") or {}).get("Name"),
        "privateIp": inst.get("PrivateIpAddress"),
        "publicIp": inst.get("PublicIpAddress"),
        "vpcId": inst.get("VpcId"),
        "subnetId": inst.get("SubnetId"),
        "securityGroupIds": sorted(g["GroupId"] for g in inst.get("SecurityGroups", []) or []),
        "availabilityZone": (inst.get("Placement") or {}).get("AvailabilityZone"),
        "instanceProfileArn": (inst.get("IamInstanceProfile") or {}).get("Arn"),
        "ec2Tags": tags,
    }
    return {k: v for k, v in out.items() if v not in (None, "", [])}


def origin_of(server: dict[str, Any], account_id: str, region: str) -> tuple[str, str]:
    """The (account, region) of a server's EC2 instance: its source cloud properties, else the DRS pair."""
    scp = server.get("sourceCloudProperties") or {}
    return scp.get("originAccountID") or account_id, scp.get("originRegion") or region


def aws_instance_id(server: dict[str, Any]) -> str | None:
    return ((server.get("sourceProperties") or {}).get("identificationHints") or {}).get("awsInstanceID")


# ------------------------------------------------------------------ records


def to_record(
    server: dict[str, Any], *, account_id: str, region: str, template_id: str | None, ec2: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The inventory row of one DRS source server (bookkeeping fields are added by the writer)."""
    props = server.get("sourceProperties") or {}
    hints = props.get("identificationHints") or {}
    scp = server.get("sourceCloudProperties") or {}
    staging = server.get("stagingArea") or {}
    dri = server.get("dataReplicationInfo") or {}
    life = server.get("lifeCycle") or {}
    extended = staging.get("status") == "EXTENDED"
    rec: dict[str, Any] = {
        "accountRegion": account_region(account_id, region),
        "sourceServerID": server["sourceServerID"],
        "accountId": account_id,
        "replicationRegion": region,
        "arn": server.get("arn"),
        "hostname": hints.get("hostname") or hints.get("fqdn") or server["sourceServerID"],
        "fqdn": hints.get("fqdn"),
        "awsInstanceID": hints.get("awsInstanceID"),
        "vmWareUuid": hints.get("vmWareUuid"),
        # The account the machine runs in: the EC2 origin for AWS sources, else the DRS account itself.
        "sourceAccountId": scp.get("originAccountID") or account_id,
        "sourceRegion": scp.get("originRegion"),
        # The account where replication is staged: the staging account of an extended server.
        "stagingAccountId": staging.get("stagingAccountID") if extended else account_id,
        "isExtended": extended,
        "replicationState": dri.get("dataReplicationState") or "UNKNOWN",
        "lagDuration": dri.get("lagDuration"),
        "lastSeen": life.get("lastSeenByServiceDateTime"),
        "os": (props.get("os") or {}).get("fullString"),
        "cpus": sum(int(c.get("cores") or 0) for c in props.get("cpus", []) or []),
        "ramBytes": props.get("ramBytes"),
        "disks": [{"deviceName": d.get("deviceName"), "bytes": d.get("bytes")} for d in props.get("disks", []) or []],
        "networkInterfaces": props.get("networkInterfaces") or [],
        "recommendedInstanceType": props.get("recommendedInstanceType"),
        "replicationDirection": server.get("replicationDirection"),
        "reversedDirectionSourceServerArn": server.get("reversedDirectionSourceServerArn"),
        "sourceCloudProperties": scp or None,
        "stagingArea": staging or None,
        "recoveryInstanceId": server.get("recoveryInstanceId"),
        "lastLaunchResult": server.get("lastLaunchResult"),
        "sourceTags": dict(server.get("tags") or {}),
        "replicationConfigTemplateId": template_id,
        "agentVersion": server.get("agentVersion"),
    }
    if ec2:
        rec.update(ec2)
    return {k: v for k, v in rec.items() if v is not None}


def _arn_parts(arn: str | None) -> tuple[str, str, str] | None:
    """arn:aws:drs:REGION:ACCOUNT:source-server/ID -> (region, account, id)."""
    if not arn:
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or "/" not in parts[5]:
        return None
    return parts[3], parts[4], parts[5].split("/", 1)[1]


# ------------------------------------------------------------------ the table


@dataclass
class WriteStats:
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    topology_inherited: int = 0


@dataclass
class InventoryStore:
    table: Any

    # ---- reads
    def pair_rows(self, account_id: str, region: str) -> dict[str, dict[str, Any]]:
        items = query_all(
            self.table, KeyConditionExpression=Key("accountRegion").eq(account_region(account_id, region))
        )
        return {item["sourceServerID"]: item for item in items}

    def rows_by_server_id(self, server_id: str) -> list[dict[str, Any]]:
        return query_all(
            self.table, IndexName="BySourceServerId", KeyConditionExpression=Key("sourceServerID").eq(server_id)
        )

    # ---- topology
    def topology_for(
        self, record: dict[str, Any], existing: dict[str, Any] | None, template_id: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Original topology for a record: kept from its row, inherited from the server it reverses or was
        extended from, else captured now. Returns (fields, inherited)."""
        if existing and existing.get("originalSourceRegion"):
            return {k: existing[k] for k in TOPOLOGY_FIELDS if k in existing}, False
        linked = None
        if record.get("replicationDirection") == "FAILBACK" and record.get("reversedDirectionSourceServerArn"):
            linked = record["reversedDirectionSourceServerArn"]
        elif record.get("isExtended") and (record.get("stagingArea") or {}).get("stagingSourceServerArn"):
            linked = record["stagingArea"]["stagingSourceServerArn"]
        if linked and (parts := _arn_parts(linked)):
            region, account, server_id = parts
            for row in self.rows_by_server_id(server_id):
                if row.get("originalSourceRegion") and row.get("accountId") == account:
                    return {k: row[k] for k in TOPOLOGY_FIELDS if k in row}, True
            # Not inventoried yet: the linked server's ARN still names where replication was configured.
            return {
                "originalSourceRegion": region,
                "originalAccountId": account,
                "topologyLastUpdated": iso(utc_now()),
            }, True
        return {
            "originalSourceRegion": record["replicationRegion"],
            "originalAccountId": record.get("stagingAccountId") or record["accountId"],
            "originalReplicationConfigTemplateId": template_id,
            "topologyLastUpdated": iso(utc_now()),
        }, False

    # ---- writes
    def write_records(
        self,
        records: list[dict[str, Any]],
        existing: dict[str, dict[str, Any]],
        template_ids: dict[str, str | None] | None = None,
    ) -> WriteStats:
        """Write the records that changed; an existing row's original topology is only ever set where absent.

        Rows seen for the first time go in batches of 25 (their topology is captured or inherited here; two
        writers racing on a first sight capture the same values). Rows that exist are updated one by one
        with `if_not_exists` on the topology, so no write path can replace it.
        """
        stats = WriteStats()
        now = iso(utc_now())
        new: list[dict[str, Any]] = []
        changed: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for rec in records:
            old = existing.get(rec["sourceServerID"])
            if old is None:
                new.append(rec)
            elif _content(old) == _content(rec) and old.get("originalSourceRegion"):
                stats.unchanged += 1
            else:
                changed.append((rec, old))

        def topology(rec: dict[str, Any], old: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
            template_id = (template_ids or {}).get(rec["accountRegion"], rec.get("replicationConfigTemplateId"))
            return self.topology_for(rec, old, template_id)

        with self.table.batch_writer() as batch:
            for rec in new:
                fields, inherited = topology(rec, None)
                batch.put_item(
                    Item=to_dynamo(
                        {
                            **rec,
                            **{k: v for k, v in fields.items() if v is not None},
                            "lastUpdated": now,
                            "firstSeen": now,
                        }
                    )
                )
                stats.written += 1
                stats.topology_inherited += int(inherited)

        def update(pair: tuple[dict[str, Any], dict[str, Any]]) -> bool:
            rec, old = pair
            fields, inherited = topology(rec, old)
            self._update(rec, old, fields, now)
            return inherited

        with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
            for inherited in pool.map(update, changed):
                stats.written += 1
                stats.topology_inherited += int(inherited)
        return stats

    def _update(self, rec: dict[str, Any], old: dict[str, Any], topology: dict[str, Any], now: str) -> None:
        primary = item_key(rec["accountRegion"], rec["sourceServerID"])
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        sets: list[str] = []
        for i, (k, v) in enumerate(sorted(rec.items())):
            if k in primary:
                continue
            names[f"#a{i}"] = k
            values[f":a{i}"] = v
            sets.append(f"#a{i} = :a{i}")
        for i, (k, v) in enumerate(sorted(topology.items())):
            if v is None:
                continue
            names[f"#t{i}"] = k
            values[f":t{i}"] = v
            sets.append(f"#t{i} = if_not_exists(#t{i}, :t{i})")
        names["#lu"], values[":now"] = "lastUpdated", now
        names["#fs"] = "firstSeen"
        sets += ["#lu = :now", "#fs = if_not_exists(#fs, :now)"]
        gone = sorted(set(old) - set(rec) - set(BOOKKEEPING_FIELDS))
        removes = []
        for i, k in enumerate(gone):
            names[f"#r{i}"] = k
            removes.append(f"#r{i}")
        expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self.table.update_item(
            Key=primary,
            UpdateExpression=expr,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_dynamo(values),
        )

    def delete_missing(self, account_id: str, region: str, seen: set[str], existing: dict[str, dict[str, Any]]) -> int:
        """Remove rows of this exact pair whose servers the (successful) scan no longer saw."""
        gone = [sid for sid in existing if sid not in seen]
        with self.table.batch_writer() as batch:
            for sid in gone:
                batch.delete_item(Key=item_key(account_region(account_id, region), sid))
        return len(gone)

    # ---- queries
    def query(self, regions: list[str], filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of the given regions through an index (never a Scan), narrowed by the filters."""
        filters = {k: v for k, v in (filters or {}).items() if v not in (None, "", [])}
        out: list[dict[str, Any]] = []
        for region in sorted(set(regions)):
            kwargs = _index_query(region, filters)
            used = kwargs.pop("_used")
            rest = {k: v for k, v in filters.items() if k not in used}
            cond = _filter_expression(rest)
            if cond is not None:
                kwargs["FilterExpression"] = cond
            out.extend(query_all(self.table, **kwargs))
        return sorted(out, key=lambda r: (r.get("replicationRegion"), r.get("accountId"), r.get("sourceServerID")))


def _content(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in BOOKKEEPING_FIELDS}


def _index_query(region: str, filters: dict[str, Any]) -> dict[str, Any]:
    if "accountId" in filters:
        return {
            "KeyConditionExpression": Key("accountRegion").eq(account_region(filters["accountId"], region)),
            "_used": {"accountId"},
        }
    for attr, index in (
        ("sourceAccountId", "BySourceAccount"),
        ("stagingAccountId", "ByStagingAccount"),
        ("replicationState", "ByReplicationState"),
    ):
        if attr in filters:
            return {
                "IndexName": index,
                "KeyConditionExpression": Key(attr).eq(filters[attr]) & Key("replicationRegion").eq(region),
                "_used": {attr},
            }
    return {"IndexName": "ByRegion", "KeyConditionExpression": Key("replicationRegion").eq(region), "_used": set()}


def _filter_expression(filters: dict[str, Any]):
    cond = None
    for attr, value in sorted(filters.items()):
        part = Attr(attr).contains(value) if attr == "hostname" else Attr(attr).eq(value)
        cond = part if cond is None else cond & part
    return cond


# ------------------------------------------------------------------ scanning one pair


SessionFor = Callable[[str], Any]  # account id -> aws.Credentials (raises ClientError when it cannot assume)


@dataclass
class PairScan:
    """What scanning one (account, region) saw."""

    account_id: str
    region: str
    servers: list[dict[str, Any]]
    template_id: str | None
    records: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def replicating(self) -> int:
        return sum(1 for r in self.records if r.get("replicationState") == "CONTINUOUS")


def scan_pair(account_id: str, region: str, *, session: Any, session_for: SessionFor, client) -> PairScan:
    """Read a pair's servers and template from DRS, then EC2 details from each origin (account, region)."""
    drs = client("drs", session=session, region=region)
    servers = describe_source_servers(drs)
    template_id = region_template_id(drs)
    scan = PairScan(account_id, region, servers, template_id)
    ec2_by_id = enrich_with_ec2(
        servers, account_id, region, session=session, session_for=session_for, client=client, warnings=scan.warnings
    )
    scan.records = [
        to_record(
            s,
            account_id=account_id,
            region=region,
            template_id=template_id,
            ec2=ec2_by_id.get(aws_instance_id(s) or ""),
        )
        for s in servers
    ]
    return scan


def enrich_with_ec2(
    servers: list[dict[str, Any]],
    account_id: str,
    region: str,
    *,
    session: Any,
    session_for: SessionFor,
    client,
    warnings: list[str],
) -> dict[str, dict[str, Any]]:
    """EC2 details of the servers' instances, one batched DescribeInstances per origin (account, region)."""
    by_origin: dict[tuple[str, str], set[str]] = defaultdict(set)
    for s in servers:
        iid = aws_instance_id(s)
        if iid:
            by_origin[origin_of(s, account_id, region)].add(iid)
    details: dict[str, dict[str, Any]] = {}
    for (origin_account, origin_region), ids in sorted(by_origin.items()):
        try:
            origin_session = session if origin_account == account_id else session_for(origin_account)
            ec2 = client("ec2", session=origin_session, region=origin_region)
            for iid, inst in describe_instances(ec2, ids).items():
                details[iid] = ec2_details(inst)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            warnings.append(f"EC2 details unavailable for {origin_account}/{origin_region}: {code}")
            logger.warning(
                "EC2 enrichment skipped",
                extra={"originAccount": origin_account, "originRegion": origin_region, "error": code},
            )
    return details


# ------------------------------------------------------------------ freshness, fallback and failback


def is_pair_fresh(status: RegionStatus | None, max_age_minutes: int, now=None) -> bool:
    if status is None:
        return False
    last = parse_iso(status.lastSuccess)
    return last is not None and last >= (now or utc_now()) - timedelta(minutes=max_age_minutes)


def stale_pairs(
    statuses: list[RegionStatus],
    regions: list[str],
    max_age_minutes: int,
    *,
    accounts: list[str] | None = None,
    now=None,
) -> list[tuple[str, str]]:
    """Pairs holding servers (as last seen) whose last successful scan is older than max_age_minutes."""
    wanted = set(regions)
    return sorted(
        (s.accountId, s.region)
        for s in statuses
        if s.region in wanted
        and (accounts is None or s.accountId in accounts)
        and s.active
        and not is_pair_fresh(s, max_age_minutes, now)
    )


def is_inventory_fresh(
    statuses: list[RegionStatus], max_age_minutes: int = 15, *, regions: list[str] | None = None, now=None
) -> bool:
    """True when every pair that holds servers was scanned successfully within max_age_minutes.

    Judged per (account, region) from region status, never from a sample row.
    """
    in_scope = regions if regions is not None else sorted({s.region for s in statuses})
    has_data = any(s.active for s in statuses if s.region in set(in_scope))
    return has_data and not stale_pairs(statuses, in_scope, max_age_minutes, now=now)


def failback_topology(store: InventoryStore, source_server_id: str) -> dict[str, Any]:
    rows = store.rows_by_server_id(source_server_id)
    if not rows:
        raise ServerNotFound(f"source server {source_server_id} is not in the inventory")
    rows.sort(key=lambda r: (not r.get("originalSourceRegion"), r.get("accountRegion")))
    row = rows[0]
    out = {
        "sourceServerID": source_server_id,
        "originalSourceRegion": row.get("originalSourceRegion"),
        "originalAccountId": row.get("originalAccountId"),
        "originalReplicationConfigTemplateId": row.get("originalReplicationConfigTemplateId"),
        "topologyLastUpdated": row.get("topologyLastUpdated"),
        "currentRegion": row.get("replicationRegion"),
        "currentAccountId": row.get("accountId"),
        "replicationDirection": row.get("replicationDirection"),
        "hostname": row.get("hostname"),
    }
    if not row.get("originalSourceRegion"):
        out["warning"] = "no original topology recorded for this server (legacy record): use its current region"
        logger.warning("server has no original topology", extra={"sourceServerID": source_server_id})
    return out
