"""Scanning one (account, region) for the inventory: DRS source servers and the region's template, EC2
details from each server's origin, and the inventory row of each server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core.reads import (
    Access,
    aws_instance_id,
    describe_source_servers,
    enrich_with_ec2,
    region_template_id,
)
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

    @property
    def replicating(self) -> int:
        return sum(1 for r in self.records if r.get("replicationState") == "CONTINUOUS")


def scan_pair(account_id: str, region: str, access: Access) -> PairScan:
    """Read a pair's servers from DRS, then its template (only where servers are: the template is a field of
    their rows) and EC2 details from each origin (account, region)."""
    drs = access.client("drs", credentials=access.credentials, region=region)
    servers = describe_source_servers(drs)
    template_id = region_template_id(drs) if servers else None
    scan = PairScan(account_id, region, servers, template_id)
    ec2_by_id = enrich_with_ec2(servers, account_id, region, access=access, warnings=scan.warnings)
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
