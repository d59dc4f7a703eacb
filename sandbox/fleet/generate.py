"""Generated source servers: deterministic hostnames, hardware, states and tags, and their EC2 instances."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from sandbox.drs import DrsEngine, Ec2Bridge, InstanceSpec, ServerSpec
from sandbox.drs.moto_plugin import MotoEc2Bridge

from .schema import DEFAULT_STATES, RegionSpec

__all__ = ["GeneratedServer", "attach_ec2", "make_servers"]

_APPS = (
    "payments",
    "orders",
    "billing",
    "crm",
    "erp",
    "hr",
    "inventory",
    "search",
    "auth",
    "reporting",
    "ledger",
    "gateway",
)
_ROLES = ("web", "app", "api", "db", "cache", "batch", "mq")
_ENVS = (("prod", 0.7), ("uat", 0.15), ("dev", 0.15))
_OS = (
    ("Amazon Linux 2", 0.3),
    ("Amazon Linux 2023", 0.15),
    ("Ubuntu 22.04.4 LTS", 0.2),
    ("Red Hat Enterprise Linux 8.9", 0.1),
    ("Microsoft Windows Server 2019 Datacenter", 0.15),
    ("Microsoft Windows Server 2022 Datacenter", 0.1),
)
_SIZES = (("t3.medium", 2, 4), ("m5.large", 2, 8), ("c5.xlarge", 4, 8), ("r5.large", 2, 16), ("m5.xlarge", 4, 16))


@dataclass
class GeneratedServer:
    """A server about to be seeded: the engine spec plus what the EC2 side needs."""

    spec: ServerSpec
    app: str
    env: str
    ec2_backed: bool
    origin_account: str
    origin_region: str

    @property
    def ec2_tags(self) -> dict[str, str]:
        return {
            "Name": self.spec.hostname,
            "App": self.app,
            "Env": self.env,
            "CostCenter": f"CC-{4100 + 7 * _APPS.index(self.app)}",
            "Owner": f"team-{self.app}",
        }


def _weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


def make_servers(
    rng: random.Random, account: str, region: str, spec: RegionSpec, *, start: int, fresh: bool = False
) -> list[GeneratedServer]:
    """Deterministic descriptions of ``spec.source_servers`` servers for one (account, region).

    Hostnames count from ``start``; ``fresh`` servers were added minutes ago (new agents), others up to
    400 days ago.
    """
    count = spec.source_servers
    down = set(rng.sample(range(count), spec.disconnected)) if spec.disconnected else set()
    n_ec2 = round(count * spec.ec2_backed)
    on_ec2 = set(rng.sample(range(count), n_ec2)) if n_ec2 else set()
    state_mix = tuple((spec.replication_states or DEFAULT_STATES).items())
    out = []
    for i in range(count):
        app, role = rng.choice(_APPS), rng.choice(_ROLES)
        env = _weighted(rng, _ENVS)
        os_name = _weighted(rng, _OS)
        instance_type, cores, ram = rng.choice(_SIZES)
        hostname = f"{app}-{role}{start + i:03d}"
        is_ec2 = i in on_ec2
        domain = f"{region}.compute.internal" if is_ec2 else "corp.example.com"
        server_spec = ServerSpec(
            hostname=hostname,
            fqdn=f"{hostname}.{domain}",
            replication_state="DISCONNECTED" if i in down else _weighted(rng, state_mix),
            os=os_name,
            cores=cores,
            ram_gib=ram,
            disks_gib=(rng.choice((30, 50, 80, 100)), *[rng.choice((100, 250, 500)) for _ in range(rng.randint(0, 2))]),
            instance_type=instance_type,
            added_days_ago=round(rng.uniform(0.01, 0.1), 3) if fresh else round(rng.uniform(1, 400), 1),
            copy_tags=rng.random() < spec.copy_tags,
        )
        origin = (spec.origin_account_id or account, spec.origin_region or region)
        server = GeneratedServer(server_spec, app, env, is_ec2, *origin)
        if rng.random() < spec.tagged:
            server.spec.tags = server.ec2_tags if is_ec2 else {"App": app, "Env": env}
        out.append(server)
    return out


def attach_ec2(engine: DrsEngine, servers: list[GeneratedServer], seed: int) -> None:
    """Create the EC2 instances of EC2-backed servers (in their origin account/region)."""
    groups: dict[tuple[str, str], list[GeneratedServer]] = {}
    for s in servers:
        if s.ec2_backed:
            groups.setdefault((s.origin_account, s.origin_region), []).append(s)
    bridge = _bridge(engine)
    for (account, region), group in groups.items():
        infos = bridge.run_instances(
            account,
            region,
            [InstanceSpec(tags=s.ec2_tags, instance_type=s.spec.instance_type) for s in group],
            seed=random.Random(f"{seed}:ec2:{account}:{region}:{group[0].spec.hostname}").getrandbits(64),
        )
        for s, info in zip(group, infos, strict=True):
            s.spec = replace(
                s.spec,
                aws_instance_id=info.instance_id,
                origin_account=account,
                origin_region=region,
                origin_availability_zone=info.availability_zone,
                ips=(info.private_ip,) if info.private_ip else (),
                mac_address=info.mac_address,
            )


def _bridge(engine: DrsEngine) -> Ec2Bridge:
    if engine.ec2 is None:
        engine.ec2 = MotoEc2Bridge()
    return engine.ec2
