"""The DRS and EC2 reads several syncs share: every source server of a pair, the region's replication
template, EC2 instances in batches, and where a source server's EC2 instance runs."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .aws import Credentials, error_code
from .errors import OriginNotTrusted
from .observability import logger

PAGE_SIZE = 1000
EC2_BATCH = 1000

ClientFactory = Callable[..., Any]  # (service, *, credentials=None, region=None) -> a boto3 client
CredentialsFor = Callable[[str], Credentials]  # account id -> credentials there (raises ClientError if it cannot)


@dataclass(frozen=True)
class Access:
    """How a work item reaches AWS: its credentials in the pair's account, credentials in any other account
    (e.g. where a server's EC2 instance runs), and the client factory."""

    credentials: Credentials
    credentials_for: CredentialsFor
    client: ClientFactory

    def in_account(self, account_id: str, home_account_id: str) -> Credentials:
        return self.credentials if account_id == home_account_id else self.credentials_for(account_id)


_MISSING_IDS = re.compile(r"i-[0-9a-f]+")


def chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


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
            template_id = tpl.get("replicationConfigurationTemplateID")
            return str(template_id) if template_id else None
    return None


def describe_instances(ec2: Any, instance_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """EC2 instances by id in batches of 1,000 ids per call; ids that no longer exist are dropped."""
    found: dict[str, dict[str, Any]] = {}
    for batch in chunks(sorted(set(instance_ids)), EC2_BATCH):
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


# What the inventory keeps of a server's EC2 instance (ec2_details' keys): kept as last known when a read fails.
EC2_FIELDS = (
    "ec2InstanceType",
    "ec2InstanceState",
    "privateIp",
    "publicIp",
    "vpcId",
    "subnetId",
    "securityGroupIds",
    "availabilityZone",
    "instanceProfileArn",
    "ec2Tags",
)


def ec2_details(inst: dict[str, Any]) -> dict[str, Any]:
    """What the inventory keeps of a source machine's EC2 instance."""
    tags = {t["Key"]: t["Value"] for t in inst.get("Tags", []) or []}
    out = {
        "ec2InstanceType": inst.get("InstanceType"),
        "ec2InstanceState": (inst.get("State") or {}).get("Name"),
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
    hints = (server.get("sourceProperties") or {}).get("identificationHints") or {}
    found = hints.get("awsInstanceID")
    return str(found) if found else None


Origin = tuple[str, str]  # (account, region) of EC2 instances


@dataclass
class Ec2Reads:
    """What reading the servers' EC2 instances gave: details by instance id, the origins whose read failed
    (their servers keep their last known details) and the origins not trusted (never read)."""

    details: dict[str, dict[str, Any]]
    failed: dict[Origin, ClientError]
    untrusted: set[Origin]

    def unread(self, server: dict[str, Any], account_id: str, region: str) -> bool:
        """The server's EC2 could not be read this time (its last known details stand)."""
        return bool(aws_instance_id(server)) and origin_of(server, account_id, region) in self.failed


def read_ec2(
    servers: list[dict[str, Any]], account_id: str, region: str, *, access: Access, warnings: list[str]
) -> Ec2Reads:
    """EC2 details of the servers' instances, one batched DescribeInstances per origin (account, region).
    An origin that cannot be read, or may not be read by this DRS account, costs only its details, with a
    warning naming it."""
    by_origin: dict[Origin, set[str]] = defaultdict(set)
    for s in servers:
        iid = aws_instance_id(s)
        if iid:
            by_origin[origin_of(s, account_id, region)].add(iid)
    reads = Ec2Reads({}, {}, set())
    for (origin_account, origin_region), ids in sorted(by_origin.items()):
        origin = (origin_account, origin_region)
        try:
            ec2 = access.client("ec2", credentials=access.in_account(origin_account, account_id), region=origin_region)
            for iid, inst in describe_instances(ec2, ids).items():
                reads.details[iid] = ec2_details(inst)
        except OriginNotTrusted as exc:
            reads.untrusted.add(origin)
            _skipped(warnings, origin, "OriginNotTrusted", str(exc))
        except ClientError as exc:
            reads.failed[origin] = exc
            _skipped(warnings, origin, error_code(exc), "last known EC2 details kept")
    return reads


def _skipped(warnings: list[str], origin: Origin, code: str, detail: str) -> None:
    warnings.append(f"EC2 details unavailable for {origin[0]}/{origin[1]}: {code}: {detail}")
    logger.warning(
        "EC2 enrichment skipped", extra={"originAccount": origin[0], "originRegion": origin[1], "error": code}
    )


def enrich_with_ec2(
    servers: list[dict[str, Any]],
    account_id: str,
    region: str,
    *,
    access: Access,
    warnings: list[str],
) -> dict[str, dict[str, Any]]:
    """EC2 details of the servers' instances by instance id (see `read_ec2`)."""
    return read_ec2(servers, account_id, region, access=access, warnings=warnings).details
