"""Scanning one (account, region) for the inventory: DRS source servers and the region's template, EC2
details from each server's origin, and the inventory row of each server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core import aws
from ...core.reads import (
    EC2_FIELDS,
    Access,
    aws_instance_id,
    describe_source_servers,
    read_ec2,
    region_template_id,
)
from ...core.regions import is_throttling
from ...core.tables import account_region

REQUIRED_FIELDS = (
    "sourceServerID",
    "replicationRegion",
    "replicationState",
    "hostname",
    "sourceAccountId",
    "sourceTags",
)


def to_record(
    server: dict[str, Any], *, account_id: str, region: str, template_id: str | None, ec2: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The inventory row of one DRS source server (bookkeeping fields are added by the writer)."""
    props = server.get("sourceProperties") or {}
    hints = props.get("identificationHints") or {}
    scp = server.get("sourceCloudProperties") or {}
    staging = server.get("stagingArea") or {}
    dri = server.get("dataReplicationInfo") or {}
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
        "lastSeen": (server.get("lifeCycle") or {}).get("lastSeenByServiceDateTime"),
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
        "recoveryInstanceID": server.get("recoveryInstanceId"),
        "lastLaunchResult": server.get("lastLaunchResult"),
        "sourceTags": dict(server.get("tags") or {}),
        "replicationConfigTemplateId": template_id,
        "agentVersion": server.get("agentVersion"),
    }
    if ec2:
        rec.update(ec2)
    return {k: v for k, v in rec.items() if v is not None}


@dataclass
class PairScan:
    """What scanning one (account, region) saw."""

    account_id: str
    region: str
    servers: list[dict[str, Any]]
    template_id: str | None
    records: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ec2_unread: set[str] = field(default_factory=set)  # servers whose EC2 read failed: last known details stand
    ec2_read_failures: int = 0  # origins whose EC2 could not be read
    origins_not_trusted: int = 0  # origins this DRS account may not read

    def keep_last_known_ec2(self, existing: dict[str, dict[str, Any]]) -> None:
        """A server whose EC2 could not be read keeps the EC2 details its row holds (never blanked)."""
        for rec in self.records:
            old = existing.get(rec["sourceServerID"])
            if old is not None and rec["sourceServerID"] in self.ec2_unread:
                rec.update({k: old[k] for k in EC2_FIELDS if k in old and k not in rec})

    @property
    def replicating(self) -> int:
        return sum(1 for r in self.records if r.get("replicationState") == "CONTINUOUS")


def scan_pair(account_id: str, region: str, access: Access) -> PairScan:
    """Read a pair's servers from DRS, then its template (only where servers are: the template is a field of
    their rows) and EC2 details from each origin (account, region).
    EC2 throttling that outlasted the SDK's retries is raised, so the pair is retried as a whole."""
    drs = access.client("drs", credentials=access.credentials, region=region)
    servers = describe_source_servers(drs)
    template_id = region_template_id(drs) if servers else None
    scan = PairScan(account_id, region, servers, template_id)
    reads = read_ec2(servers, account_id, region, access=access, warnings=scan.warnings)
    throttled = [exc for exc in reads.failed.values() if is_throttling(aws.error_code(exc))]
    if throttled:
        raise throttled[0]
    scan.ec2_unread = {s["sourceServerID"] for s in servers if reads.unread(s, account_id, region)}
    scan.ec2_read_failures, scan.origins_not_trusted = len(reads.failed), len(reads.untrusted)
    scan.records = [
        to_record(
            s,
            account_id=account_id,
            region=region,
            template_id=template_id,
            ec2=reads.details.get(aws_instance_id(s) or ""),
        )
        for s in servers
    ]
    return scan
