"""Fleet files: a whole DRS estate (accounts, regions, servers, EC2, roles, faults) from one YAML file.

``load_fleet`` validates a fleet (strictly: unknown or bad fields raise :class:`FleetError` naming the
field); ``apply_fleet`` seeds it, deterministically from ``seed``, into a :class:`~sandbox.drs.DrsEngine`
and into moto (EC2 instances, IAM roles, the accounts table); ``add_source_servers`` adds servers later,
as newly installed agents would. The format is documented in docs/fleet.md.
"""

from __future__ import annotations

import json
import logging
import random
import re
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from sandbox.drs import shapes
from sandbox.drs.engine import DrsEngine, InstanceSpec, ServerSpec
from sandbox.drs.faults import Fault, FaultError, format_validation_error

__all__ = [
    "AccountSpec",
    "Fleet",
    "FleetError",
    "RegionSpec",
    "add_source_servers",
    "apply_fleet",
    "load_fleet",
    "role_trust_policy",
]

log = logging.getLogger(__name__)

DEFAULT_STACK_ACCOUNT = "123456789012"
DEFAULT_STATES = {"CONTINUOUS": 0.9, "INITIAL_SYNC": 0.04, "BACKLOG": 0.03, "STALLED": 0.03}
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


class FleetError(ValueError):
    """A fleet is invalid or cannot be applied; the message starts with the field path."""


# ----------------------------------------------------------------------------------------- schema
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, validate_default=True)


def _account_id(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        raise ValueError(f"account ids must be quoted strings in YAML ({v} is a number)")
    if not isinstance(v, str) or not _ACCOUNT_RE.match(v):
        raise ValueError(f"must be a 12-digit account id, not {v!r}")
    return v


class RegionSpec(_Strict):
    """Servers of one account in one region (see docs/fleet.md)."""

    source_servers: int = Field(default=0, ge=0, le=100_000)
    recovery_instances: int = Field(default=0, ge=0)
    ec2_backed: float = Field(default=0.0, ge=0.0, le=1.0)
    disconnected: int = Field(default=0, ge=0)
    replication_states: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_STATES))
    extended_from: dict[str, int] = Field(default_factory=dict)
    origin_account_id: str | None = None
    origin_region: str | None = None
    copy_tags: float = Field(default=0.0, ge=0.0, le=1.0)
    tagged: float = Field(default=0.0, ge=0.0, le=1.0)
    reverse_replicated: int = Field(default=0, ge=0)

    @field_validator("replication_states")
    @classmethod
    def _states(cls, v: dict[str, float]) -> dict[str, float]:
        allowed = set(shapes.service_model().shape_for("DataReplicationState").enum) - {"DISCONNECTED"}
        bad = sorted(set(v) - allowed)
        if bad:
            raise ValueError(f"unknown states {bad} (allowed: {', '.join(sorted(allowed))}; use disconnected: N)")
        if any(w < 0 for w in v.values()) or not sum(v.values()) > 0:
            raise ValueError("weights must be >= 0 and add up to more than 0")
        return v

    @field_validator("extended_from", mode="before")
    @classmethod
    def _extended_keys(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for k in v:
                _account_id(k)
        return v

    @field_validator("origin_account_id", mode="before")
    @classmethod
    def _origin_account(cls, v: Any) -> Any:
        return None if v is None else _account_id(v)

    @field_validator("origin_region")
    @classmethod
    def _origin_region(cls, v: str | None) -> str | None:
        if v is not None and v not in shapes.regions():
            raise ValueError(f"{v!r} is not a DRS region")
        return v


class AccountSpec(_Strict):
    """One AWS account of the estate."""

    account_id: str
    name: str | None = Field(default=None, min_length=1, max_length=128)
    kind: Literal["target", "staging"] = "target"
    external_id: str | None = None
    staging_accounts: list[str] = Field(default_factory=list)
    regions: dict[str, RegionSpec] = Field(default_factory=dict)
    uninitialized_regions: list[str] = Field(default_factory=list)
    disabled_regions: list[str] = Field(default_factory=list)
    other_regions: Literal["initialized", "uninitialized"] = "initialized"
    enabled: bool = True
    registered: bool = True
    create_role: bool = True

    @field_validator("account_id", mode="before")
    @classmethod
    def _account(cls, v: Any) -> Any:
        return _account_id(v)

    @field_validator("regions", mode="before")
    @classmethod
    def _empty_regions(cls, v: Any) -> Any:
        if isinstance(v, dict):  # "eu-west-1:" with nothing after it: a region with no servers
            return {k: ({} if spec is None else spec) for k, spec in v.items()}
        return v

    @field_validator("staging_accounts", mode="before")
    @classmethod
    def _staging_ids(cls, v: Any) -> Any:
        if isinstance(v, list):
            for item in v:
                _account_id(item)
        return v

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, v: str | None) -> str | None:
        if v is not None and not _EXTERNAL_ID_RE.match(v):
            raise ValueError("must be 2-1224 characters of [A-Za-z0-9+=,.@:/-_] (the sts:ExternalId rules)")
        return v

    @property
    def display_name(self) -> str:
        return self.name or f"{self.kind}-{self.account_id}"


class Quotas(_Strict):
    max_replicating_servers: int = Field(default=300, ge=1)


class Fleet(_Strict):
    """A validated fleet. Build it with :func:`load_fleet`."""

    seed: int = 0
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    quotas: Quotas = Field(default_factory=Quotas)
    accounts: list[AccountSpec] = Field(min_length=1)
    faults: list[Fault] = Field(default_factory=list)

    def account(self, account_id: str) -> AccountSpec:
        for a in self.accounts:
            if a.account_id == account_id:
                return a
        raise KeyError(account_id)

    @property
    def targets(self) -> list[AccountSpec]:
        return [a for a in self.accounts if a.kind == "target"]

    @property
    def staging(self) -> list[AccountSpec]:
        return [a for a in self.accounts if a.kind == "staging"]

    @property
    def server_count(self) -> int:
        """Native source servers (extended and reversed servers not included)."""
        return sum(r.source_servers for a in self.accounts for r in a.regions.values())


# ------------------------------------------------------------------------------------------ load
def load_fleet(src: str | Path | dict[str, Any] | Fleet) -> Fleet:
    """Load and validate a fleet from a YAML/JSON file path or a dict; raises :class:`FleetError`."""
    if isinstance(src, Fleet):
        return src
    if isinstance(src, dict):
        data: Any = src
    elif not isinstance(src, str | Path):
        raise FleetError(f"fleet: must be a mapping or a file path, not {type(src).__name__}")
    else:
        path = Path(src)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise FleetError(f"{path}: cannot read the fleet file ({e.strerror or e})") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as e:
            raise FleetError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {e}") from None
    if not isinstance(data, dict):
        raise FleetError(f"fleet: must be a mapping, not {type(data).__name__}")
    try:
        fleet = Fleet.model_validate(data)
    except ValidationError as e:
        raise FleetError(format_validation_error(e).lstrip(".")) from None
    _check(fleet)
    return fleet


def _check(fleet: Fleet) -> None:
    """Cross-field rules pydantic cannot express per field; messages name the field."""
    regions = set(shapes.regions())
    by_id: dict[str, AccountSpec] = {}
    for i, a in enumerate(fleet.accounts):
        p = f"accounts[{i}]"
        if a.account_id in by_id:
            raise FleetError(f"{p}.accountId: {a.account_id} appears twice")
        by_id[a.account_id] = a
        for field_name, listed in (
            ("uninitializedRegions", a.uninitialized_regions),
            ("disabledRegions", a.disabled_regions),
        ):
            for j, r in enumerate(listed):
                if r not in regions:
                    raise FleetError(f"{p}.{field_name}[{j}]: {r!r} is not a DRS region ({len(regions)} known)")
                if r in a.regions:
                    raise FleetError(f"{p}.{field_name}[{j}]: {r} also has servers under regions")
        both = set(a.uninitialized_regions) & set(a.disabled_regions)
        if both:
            raise FleetError(f"{p}.disabledRegions: {sorted(both)[0]} is also in uninitializedRegions")
        for r, spec in a.regions.items():
            rp = f"{p}.regions.{r}"
            if r not in regions:
                raise FleetError(f"{p}.regions.{r}: not a DRS region (botocore lists {len(regions)})")
            if spec.disconnected > spec.source_servers:
                raise FleetError(f"{rp}.disconnected: {spec.disconnected} > sourceServers ({spec.source_servers})")
            live = spec.source_servers - spec.disconnected
            if spec.recovery_instances > live:
                raise FleetError(
                    f"{rp}.recoveryInstances: {spec.recovery_instances} > connected servers ({live} = sourceServers - "
                    "disconnected)"
                )
            if spec.reverse_replicated:
                if spec.reverse_replicated > spec.recovery_instances:
                    raise FleetError(f"{rp}.reverseReplicated: more than recoveryInstances ({spec.recovery_instances})")
                if not spec.ec2_backed:
                    raise FleetError(f"{rp}.reverseReplicated: needs ec2Backed servers (reverse replication is in-AWS)")
                if spec.origin_region in (None, r):
                    raise FleetError(f"{rp}.reverseReplicated: needs originRegion different from {r}")
                origin_uninitialized = spec.origin_region in a.uninitialized_regions or (
                    a.other_regions == "uninitialized" and spec.origin_region not in a.regions
                )
                if spec.origin_region in a.disabled_regions or origin_uninitialized:
                    raise FleetError(f"{rp}.reverseReplicated: originRegion {spec.origin_region} is not initialized")
            if a.kind == "staging" and spec.extended_from:
                raise FleetError(f"{rp}.extendedFrom: only target accounts extend staging servers")
    for i, a in enumerate(fleet.accounts):
        p = f"accounts[{i}]"
        if a.kind == "staging" and a.staging_accounts:
            raise FleetError(f"{p}.stagingAccounts: only target accounts trust staging accounts")
        for j, s in enumerate(a.staging_accounts):
            other = by_id.get(s)
            if other is None:
                raise FleetError(f"{p}.stagingAccounts[{j}]: {s} is not an account of this fleet")
            if other.kind != "staging":
                raise FleetError(f"{p}.stagingAccounts[{j}]: {s} is kind {other.kind}, not staging")
        for r, spec in a.regions.items():
            for s, n in spec.extended_from.items():
                fp = f"{p}.regions.{r}.extendedFrom.{s}"
                if s not in a.staging_accounts:
                    raise FleetError(f"{fp}: {s} is not in this account's stagingAccounts")
                if n < 0:
                    raise FleetError(f"{fp}: must be >= 0")
                staging_region = by_id[s].regions.get(r)
                available = 0 if staging_region is None else staging_region.source_servers - staging_region.disconnected
                if n > available:
                    raise FleetError(f"{fp}: {n} > the {available} connected servers {s} has in {r}")


# ----------------------------------------------------------------------------------------- apply
@dataclass(frozen=True)
class _Applied:
    role_name: str
    stack_account: str
    accounts_table: str | None
    stack_region: str


_applied: weakref.WeakKeyDictionary[DrsEngine, _Applied] = weakref.WeakKeyDictionary()

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
class _Server:
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


def _make_servers(
    rng: random.Random,
    account: str,
    region: str,
    count: int,
    *,
    start: int,
    ec2_backed: float,
    disconnected: int = 0,
    states: dict[str, float] | None = None,
    origin_account: str | None = None,
    origin_region: str | None = None,
    copy_tags: float = 0.0,
    tagged: float = 0.0,
    fresh: bool = False,
) -> list[_Server]:
    """Deterministic server descriptions for one (account, region)."""
    down = set(rng.sample(range(count), disconnected)) if disconnected else set()
    n_ec2 = round(count * ec2_backed)
    on_ec2 = set(rng.sample(range(count), n_ec2)) if n_ec2 else set()
    state_mix = tuple((states or DEFAULT_STATES).items())
    out = []
    for i in range(count):
        app, role = rng.choice(_APPS), rng.choice(_ROLES)
        env = _weighted(rng, _ENVS)
        os_name = _weighted(rng, _OS)
        instance_type, cores, ram = rng.choice(_SIZES)
        hostname = f"{app}-{role}{start + i:03d}"
        is_ec2 = i in on_ec2
        domain = f"{region}.compute.internal" if is_ec2 else "corp.example.com"
        spec = ServerSpec(
            hostname=hostname,
            fqdn=f"{hostname}.{domain}",
            replication_state="DISCONNECTED" if i in down else _weighted(rng, state_mix),
            os=os_name,
            cores=cores,
            ram_gib=ram,
            disks_gib=(rng.choice((30, 50, 80, 100)), *[rng.choice((100, 250, 500)) for _ in range(rng.randint(0, 2))]),
            instance_type=instance_type,
            added_days_ago=round(rng.uniform(0.01, 0.1), 3) if fresh else round(rng.uniform(1, 400), 1),
            copy_tags=rng.random() < copy_tags,
        )
        server = _Server(spec, app, env, is_ec2, origin_account or account, origin_region or region)
        if rng.random() < tagged:
            server.spec.tags = server.ec2_tags if is_ec2 else {"App": app, "Env": env}
        out.append(server)
    return out


def _attach_ec2(engine: DrsEngine, servers: list[_Server], seed: int) -> None:
    """Create the EC2 instances of EC2-backed servers (in their origin account/region)."""
    groups: dict[tuple[str, str], list[_Server]] = {}
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


def _bridge(engine: DrsEngine) -> Any:
    if engine.ec2 is None:
        from sandbox.drs.moto_plugin import MotoEc2Bridge

        engine.ec2 = MotoEc2Bridge()
    return engine.ec2


def apply_fleet(
    fleet: Fleet,
    engine: DrsEngine,
    *,
    accounts_table: str | None,
    role_name: str,
    stack_account: str = DEFAULT_STACK_ACCOUNT,
    stack_region: str = "us-east-1",
) -> None:
    """Seed ``fleet`` into ``engine`` and moto (call inside ``mock_aws()`` or the moto server process).

    Resets the engine first, then seeds, deterministically from ``fleet.seed``: DRS state per (account,
    region), staging trust and extensions, recovery instances (each with its moto EC2 instance), moto
    EC2 instances for EC2-backed servers (id = ``awsInstanceID``), the IAM role ``role_name`` in every
    account, a row per registered account in ``accounts_table`` and the faults.
    """
    fleet = load_fleet(fleet)
    if accounts_table is not None:
        _accounts_backend(accounts_table, stack_account, stack_region)  # fail before seeding anything
    engine.reset()
    engine.configure(
        seed=fleet.seed, latency_ms=fleet.latency_ms, max_replicating_servers=fleet.quotas.max_replicating_servers
    )
    for a in fleet.accounts:
        engine.set_default_initialized(a.account_id, a.other_regions == "initialized")
        engine.trust_staging(a.account_id, a.staging_accounts)
        for r in a.disabled_regions:
            engine.set_region_enabled(a.account_id, r, False)
        for r in a.uninitialized_regions:
            engine.set_initialized(a.account_id, r, False)
    for i, a in enumerate(fleet.accounts):
        for region, spec in a.regions.items():
            _seed_region(fleet, engine, i, a, region, spec)
    for i, a in enumerate(fleet.accounts):
        for region, spec in a.regions.items():
            for staging, count in spec.extended_from.items():
                _seed_extensions(engine, a.account_id, region, staging, count, f"accounts[{i}].regions.{region}")
    for a in fleet.accounts:
        if a.create_role:
            _ensure_role(a.account_id, role_name, stack_account, a.external_id)
    if accounts_table is not None:
        _write_accounts(fleet, accounts_table, role_name, stack_account, stack_region)
    try:
        engine.set_faults(fleet.faults)
    except FaultError as e:
        raise FleetError(str(e)) from None
    _applied[engine] = _Applied(role_name, stack_account, accounts_table, stack_region)
    log.info(
        "fleet applied: %d accounts, %d source servers, %d faults",
        len(fleet.accounts),
        fleet.server_count,
        len(fleet.faults),
    )


def _seed_region(fleet: Fleet, engine: DrsEngine, index: int, a: AccountSpec, region: str, spec: RegionSpec) -> None:
    rng = random.Random(f"{fleet.seed}:fleet:{a.account_id}:{region}")
    servers = _make_servers(
        rng,
        a.account_id,
        region,
        spec.source_servers,
        start=0,
        ec2_backed=spec.ec2_backed,
        disconnected=spec.disconnected,
        states=spec.replication_states,
        origin_account=spec.origin_account_id,
        origin_region=spec.origin_region,
        copy_tags=spec.copy_tags,
        tagged=spec.tagged,
    )
    _attach_ec2(engine, servers, fleet.seed)
    ids = [engine.create_source_server(a.account_id, region, s.spec) for s in servers]
    if not spec.source_servers:
        engine.set_initialized(a.account_id, region, True)
    candidates = [(sid, s) for sid, s in zip(ids, servers, strict=True) if s.spec.replication_state != "DISCONNECTED"]
    if spec.reverse_replicated:  # reversible (EC2-backed, other origin region) servers first
        candidates.sort(key=lambda c: not (c[1].ec2_backed and c[1].origin_region != region))
    recovered = []
    for n, (sid, s) in enumerate(candidates[: spec.recovery_instances]):
        drill = n % 3 != 2  # two drills for every recovery
        recovered.append((engine.launch_recovery_instance(a.account_id, region, sid, drill=drill), s))
    reversible = [rid for rid, s in recovered if s.ec2_backed and s.origin_region != region]
    if len(reversible) < spec.reverse_replicated:
        raise FleetError(
            f"accounts[{index}].regions.{region}.reverseReplicated: only {len(reversible)} recovery instances "
            "belong to EC2-backed servers; raise ec2Backed or recoveryInstances"
        )
    for rid in reversible[: spec.reverse_replicated]:
        engine.reverse_replication(a.account_id, region, rid)


def _seed_extensions(engine: DrsEngine, target: str, region: str, staging: str, count: int, path: str) -> None:
    candidates = [
        s
        for s in engine.source_servers(staging, region)
        if s["stagingArea"].get("status") != "EXTENDED"
        and s.get("replicationDirection") == "FAILOVER"
        and s["dataReplicationInfo"]["dataReplicationState"] != "DISCONNECTED"
    ]
    if len(candidates) < count:
        raise FleetError(f"{path}.extendedFrom.{staging}: only {len(candidates)} extensible servers in {region}")
    for s in candidates[:count]:
        engine.extend_source_server(target, region, s["arn"], tags=dict(s.get("tags", {})))


def role_trust_policy(stack_account: str, external_id: str | None) -> dict[str, Any]:
    """The trust policy of the cross-account role: the stack account, with ``sts:ExternalId`` if set."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{stack_account}:root"},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


_ROLE_PERMISSIONS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["drs:*"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:CreateTags", "ec2:DeleteTags"], "Resource": "*"},
    ],
}


def _ensure_role(account: str, role_name: str, stack_account: str, external_id: str | None) -> None:
    """Create (or update the trust of) the cross-account role in moto's IAM backend of ``account``."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["global"]
    trust = json.dumps(role_trust_policy(stack_account, external_id))
    if not _role_exists(account, role_name):
        iam.create_role(
            role_name=role_name,
            assume_role_policy_document=trust,
            path="/",
            permissions_boundary=None,
            description="DRS Fleet Sync cross-account role (sandbox)",
            tags=[],
            max_session_duration=None,
        )
    else:
        iam.update_assume_role_policy(role_name, trust)
    iam.put_role_policy(role_name, "drs-fleet-sync", json.dumps(_ROLE_PERMISSIONS))


def accounts_rows(fleet: Fleet, role_name: str) -> list[dict[str, Any]]:
    """The accounts-table items for the registered accounts of ``fleet`` (plain JSON types)."""
    rows = []
    for a in fleet.accounts:
        if not a.registered:
            continue
        row: dict[str, Any] = {
            "accountId": a.account_id,
            "name": a.display_name,
            "kind": a.kind,
            "roleArn": f"arn:aws:iam::{a.account_id}:role/{role_name}",
            "enabled": a.enabled,
        }
        if a.external_id:
            row["externalId"] = a.external_id
        if a.kind == "target":
            row["stagingAccounts"] = list(a.staging_accounts)
        rows.append(row)
    return rows


def _accounts_backend(table: str, stack_account: str, stack_region: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[stack_account][stack_region]
    if table not in backend.tables:
        raise FleetError(f"accounts table {table!r} does not exist in {stack_account}/{stack_region}")
    return backend


def _write_accounts(fleet: Fleet, table: str, role_name: str, stack_account: str, stack_region: str) -> None:
    from boto3.dynamodb.types import TypeSerializer

    backend = _accounts_backend(table, stack_account, stack_region)
    serializer = TypeSerializer()
    for row in accounts_rows(fleet, role_name):
        backend.put_item(table, {k: serializer.serialize(v) for k, v in row.items()})


# -------------------------------------------------------------------------------- later changes
def add_source_servers(
    engine: DrsEngine,
    account: str,
    region: str,
    count: int,
    *,
    ec2_backed: float = 0.0,
    stack_account: str = DEFAULT_STACK_ACCOUNT,
) -> list[str]:
    """Add ``count`` servers to (account, region), as newly installed agents would; returns their ids.

    The region becomes initialized (installing an agent requires it). EC2-backed servers get their moto
    EC2 instance in (account, region). If ``apply_fleet`` seeded this engine and ``account`` has no
    cross-account role yet, the role is created with the same name, trusting ``stack_account``.
    """
    if count < 0:
        raise FleetError(f"count: must be >= 0, not {count}")
    if not 0.0 <= ec2_backed <= 1.0:
        raise FleetError(f"ec2Backed: must be between 0 and 1, not {ec2_backed}")
    _account_id(account)
    if region not in shapes.regions():
        raise FleetError(f"region: {region!r} is not a DRS region")
    existing = len(engine.source_servers(account, region))
    rng = random.Random(f"{engine.seed}:add:{account}:{region}:{existing}")
    servers = _make_servers(
        rng, account, region, count, start=existing, ec2_backed=ec2_backed, states={"INITIAL_SYNC": 1}, fresh=True
    )
    _attach_ec2(engine, servers, engine.seed)
    new_ids = [engine.create_source_server(account, region, s.spec) for s in servers]
    engine.set_initialized(account, region, True)
    applied = _applied.get(engine)
    if applied is not None:
        _ensure_role_if_missing(account, applied.role_name, stack_account)
    return new_ids


def _ensure_role_if_missing(account: str, role_name: str, stack_account: str) -> None:
    if not _role_exists(account, role_name):
        _ensure_role(account, role_name, stack_account, None)


def _role_exists(account: str, role_name: str) -> bool:
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    try:
        iam_backends[account]["global"].get_role(role_name)
    except NotFoundException:
        return False
    return True
