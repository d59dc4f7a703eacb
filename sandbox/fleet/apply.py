"""Seeding: a validated fleet into a :class:`~sandbox.drs.DrsEngine` and moto, and servers added later."""

from __future__ import annotations

import logging
import random
import weakref
from dataclasses import dataclass

from sandbox.drs import DrsEngine, events, shapes
from sandbox.drs.faults import FaultError

from .accounts import check_accounts_table, ensure_role, external_id_of, role_exists, write_accounts
from .generate import attach_ec2, make_servers
from .load import load_fleet
from .schema import AccountSpec, Fleet, FleetError, RegionSpec, account_id

__all__ = ["DEFAULT_STACK_ACCOUNT", "add_source_servers", "apply_fleet"]

log = logging.getLogger(__name__)

DEFAULT_STACK_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class _Applied:
    role_name: str
    stack_account: str
    accounts_table: str | None
    stack_region: str
    trusted_role_arns: list[str] | None = None


_applied: weakref.WeakKeyDictionary[DrsEngine, _Applied] = weakref.WeakKeyDictionary()


def apply_fleet(
    fleet: Fleet,
    engine: DrsEngine,
    *,
    accounts_table: str | None,
    role_name: str,
    stack_account: str = DEFAULT_STACK_ACCOUNT,
    stack_region: str = "us-east-1",
    trusted_role_arns: list[str] | None = None,
) -> None:
    """Seed ``fleet`` into ``engine`` and moto (call inside ``mock_aws()`` or the moto server process).

    Resets the engine first, then seeds, deterministically from ``fleet.seed``: DRS state per (account,
    region), staging trust and extensions, recovery instances (each with its moto EC2 instance), moto
    EC2 instances for EC2-backed servers (id = ``awsInstanceID``), the shipped role
    (templates/cross-account-role.yaml, named ``role_name``, trusting ``trusted_role_arns`` of
    ``stack_account`` with the account's ExternalId) in every account, a row per registered account in
    ``accounts_table`` and the faults.
    """
    fleet = load_fleet(fleet)
    if accounts_table is not None:
        check_accounts_table(accounts_table, stack_account, stack_region)  # fail before seeding anything
    _configure(fleet, engine)
    _seed_drs(fleet, engine)
    for a in fleet.accounts:
        if a.create_role:
            ensure_role(
                a.account_id,
                role_name,
                stack_account,
                external_id_of(fleet.seed, a),
                trusted_role_arns=trusted_role_arns,
                role_policy=a.role_policy,
            )
    if accounts_table is not None:
        write_accounts(fleet, accounts_table, role_name, stack_account, stack_region)
    try:
        engine.set_faults(fleet.faults)
    except FaultError as e:
        raise FleetError(str(e)) from None
    _applied[engine] = _Applied(role_name, stack_account, accounts_table, stack_region, trusted_role_arns)
    log.info(
        "fleet applied: %d accounts, %d source servers, %d faults",
        len(fleet.accounts),
        fleet.server_count,
        len(fleet.faults),
    )


def _configure(fleet: Fleet, engine: DrsEngine) -> None:
    """Reset the engine to the fleet's settings, trust and region flags (before any server exists)."""
    engine.reset()
    engine.configure(
        seed=fleet.seed, latency_ms=fleet.latency_ms, max_replicating_servers=fleet.quotas.max_replicating_servers
    )
    for a in fleet.accounts:
        engine.set_default_initialized(a.account_id, a.other_regions == "initialized")
        engine.trust_staging(a.account_id, a.staging_accounts)
        for r in shapes.regions():
            if not a.is_enabled(r):
                engine.set_region_enabled(a.account_id, r, False)
        for r in a.uninitialized_regions:
            engine.set_initialized(a.account_id, r, False)


def _seed_drs(fleet: Fleet, engine: DrsEngine) -> None:
    """Every region's servers and recovery instances, then the extensions (their staging servers exist by then)."""
    for i, a in enumerate(fleet.accounts):
        for region, spec in a.regions.items():
            _seed_region(fleet, engine, i, a, region, spec)
    for i, a in enumerate(fleet.accounts):
        for region, spec in a.regions.items():
            for staging, count in spec.extended_from.items():
                _seed_extensions(engine, a.account_id, region, staging, count, f"accounts[{i}].regions.{region}")


def _seed_region(fleet: Fleet, engine: DrsEngine, index: int, a: AccountSpec, region: str, spec: RegionSpec) -> None:
    rng = random.Random(f"{fleet.seed}:fleet:{a.account_id}:{region}")
    servers = make_servers(rng, a.account_id, region, spec, start=0)
    attach_ec2(engine, servers, fleet.seed)
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
    account_id(account)
    if region not in shapes.regions():
        raise FleetError(f"region: {region!r} is not a DRS region")
    existing = len(engine.source_servers(account, region))
    rng = random.Random(f"{engine.seed}:add:{account}:{region}:{existing}")
    # new agents: all still in their first sync (constructed, not validated: the checks above are the rules)
    spec = RegionSpec.model_construct(
        source_servers=count, ec2_backed=ec2_backed, replication_states={"INITIAL_SYNC": 1.0}
    )
    servers = make_servers(rng, account, region, spec, start=existing, fresh=True)
    attach_ec2(engine, servers, engine.seed)
    new_ids = [engine.create_source_server(account, region, s.spec) for s in servers]
    engine.set_initialized(account, region, True)
    for sid in new_ids:  # each agent registers its server with DRS: CloudTrail records the call
        record = events.api_call("CreateSourceServerForDrs", account, region, {"sourceServerID": sid})
        engine.emit(account, region, record, events.API_CALL_DELAY_SECONDS)
    applied = _applied.get(engine)
    if applied is not None and not role_exists(account, applied.role_name):
        unregistered = AccountSpec.model_validate({"accountId": account, "registered": False})  # reaches no row
        ensure_role(
            account,
            applied.role_name,
            stack_account,
            external_id_of(engine.seed, unregistered),
            trusted_role_arns=applied.trusted_role_arns,
        )
    return new_ids
