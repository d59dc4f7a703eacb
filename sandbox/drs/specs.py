"""What callers hand the simulator: seed specs for source servers and the EC2 side of DRS resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Ec2Bridge", "InstanceInfo", "InstanceSpec", "Json", "ServerSpec"]

Json = dict[str, Any]


@dataclass(frozen=True)
class InstanceSpec:
    """An EC2 instance to create for the simulator (recovery instances, EC2-backed source servers)."""

    tags: dict[str, str]
    instance_type: str = "m5.large"


@dataclass(frozen=True)
class InstanceInfo:
    instance_id: str
    availability_zone: str
    private_ip: str | None = None
    mac_address: str | None = None


class Ec2Bridge(Protocol):
    """Creates the EC2 instances behind DRS resources; the moto plugin installs one backed by moto."""

    def run_instances(
        self, account: str, region: str, specs: list[InstanceSpec], *, seed: int | None = None
    ) -> list[InstanceInfo]: ...

    def terminate_instances(self, account: str, region: str, instance_ids: list[str]) -> None: ...


@dataclass
class ServerSpec:
    """What a source server looks like; everything not given is drawn from the region's generator.

    ``aws_instance_id`` makes the server EC2-backed (``identificationHints.awsInstanceID`` and
    ``sourceCloudProperties``); otherwise it is an on-premises VMware server.
    """

    hostname: str
    fqdn: str | None = None
    aws_instance_id: str | None = None
    origin_account: str | None = None
    origin_region: str | None = None
    origin_availability_zone: str | None = None
    replication_state: str = "CONTINUOUS"
    os: str = "Amazon Linux 2"
    architecture: str = "x86_64"
    cores: int = 2
    ram_gib: int = 8
    disks_gib: tuple[int, ...] = (20,)
    ips: tuple[str, ...] = ()
    mac_address: str | None = None
    instance_type: str = "m5.large"
    tags: dict[str, str] = field(default_factory=dict)
    added_days_ago: float = 30.0
    copy_tags: bool = False
    source_server_id: str | None = None
