"""The DRS simulator engine: state per (account, region), the operations, faults and counters.

The engine knows nothing about HTTP servers: a front-end (the moto plugin or :mod:`sandbox.drs.server`)
hands it one request at a time::

    status, headers, body = engine.handle("POST", "/DescribeSourceServers", {}, b"{}",
                                          account="111111111111", region="us-east-1")

and gets back the restJson1 answer botocore expects (routes, status codes and error shapes come from
botocore's model, see :mod:`sandbox.drs.shapes`). Seeding and inspection are plain Python methods
(:meth:`DrsEngine.create_source_server`, :meth:`DrsEngine.source_servers` ...); :mod:`sandbox.fleet` uses
them to build a whole estate.

Thread safety: one re-entrant lock guards all state; an operation runs and its answer is serialised
under it. Fault latency is slept outside the lock, so a slow region does not stall the others.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from . import ids, shapes
from .errors import DrsError
from .faults import Call, Fault, FaultSet, parse_faults, uninitialized_error

__all__ = ["DrsEngine", "DrsError", "Ec2Bridge", "InstanceInfo", "InstanceSpec", "ServerSpec"]

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_REPLICATING_SERVERS = 300  # documented DRS quota per account (and region)
REPLICATING_QUOTA_CODE = "L-DRS-SIM-REPLICATING-SERVERS"  # simulator's code; DRS quota codes are not published
NOT_REPLICATING = frozenset({"DISCONNECTED", "STOPPED"})
IMPLEMENTED_OPERATIONS = (
    "CreateExtendedSourceServer",
    "DeleteSourceServer",
    "DescribeJobs",
    "DescribeRecoveryInstances",
    "DescribeReplicationConfigurationTemplates",
    "DescribeSourceServers",
    "DisconnectSourceServer",
    "GetLaunchConfiguration",
    "GetReplicationConfiguration",
    "InitializeService",
    "ListExtensibleSourceServers",
    "ListStagingAccounts",
    "ListTagsForResource",
    "ReverseReplication",
    "StartRecovery",
    "TagResource",
    "TerminateRecoveryInstances",
    "UntagResource",
    "UpdateLaunchConfiguration",
)
_TAGGABLE = {
    "source-server": "servers",
    "recovery-instance": "recovery_instances",
    "job": "jobs",
    "replication-configuration-template": "templates",
}
_GIB = 1024**3

Json = dict[str, Any]
Response = tuple[int, dict[str, str], bytes]


# ------------------------------------------------------------------------------------ EC2 bridge
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


# ------------------------------------------------------------------------------------ seed specs
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


# ---------------------------------------------------------------------------------------- state
class _Table:
    """Rows in insertion order with a stable sequence number each (keyset pagination survives deletes)."""

    def __init__(self) -> None:
        self.rows: dict[str, Json] = {}
        self.seq: dict[str, int] = {}
        self._next = 0

    def put(self, key: str, row: Json) -> Json:
        if key not in self.rows:
            self.seq[key] = self._next
            self._next += 1
        self.rows[key] = row
        return row

    def get(self, key: str) -> Json | None:
        return self.rows.get(key)

    def pop(self, key: str) -> Json | None:
        self.seq.pop(key, None)
        return self.rows.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def values(self) -> Iterable[Json]:
        return self.rows.values()

    def items(self) -> Iterable[tuple[str, Json]]:
        return self.rows.items()


class RegionState:
    """DRS in one account and region."""

    def __init__(self, account: str, region: str, *, initialized: bool, rng: random.Random) -> None:
        self.account = account
        self.region = region
        self.initialized = initialized
        self.rng = rng
        self.servers = _Table()
        self.recovery_instances = _Table()
        self.jobs = _Table()
        self.templates = _Table()
        self.launch_configs: dict[str, Json] = {}
        self.replication_configs: dict[str, Json] = {}
        self.server_template: dict[str, str] = {}

    def arn(self, resource_type: str, resource_id: str) -> str:
        return ids.make_arn(self.region, self.account, resource_type, resource_id)

    def server(self, sid: str) -> Json:
        s = self.servers.get(sid)
        if s is None:
            raise DrsError(
                "ResourceNotFoundException",
                f"Source server {sid} not found",
                resourceId=sid,
                resourceType="SOURCE_SERVER",
            )
        return s

    def replicating_count(self) -> int:
        return sum(
            1 for s in self.servers.values() if s["dataReplicationInfo"]["dataReplicationState"] not in NOT_REPLICATING
        )


@dataclass
class _Ctx:
    engine: DrsEngine
    state: RegionState
    operation: str

    @property
    def account(self) -> str:
        return self.state.account

    @property
    def region(self) -> str:
        return self.state.region


# --------------------------------------------------------------------------------------- engine
class DrsEngine:
    """In-memory DRS for many accounts and regions. See the module docstring and docs/fleet.md."""

    def __init__(
        self,
        seed: int | None = None,
        *,
        default_page_size: int = DEFAULT_PAGE_SIZE,
        max_replicating_servers: int = DEFAULT_MAX_REPLICATING_SERVERS,
        ec2: Ec2Bridge | None = None,
    ) -> None:
        self.default_page_size = default_page_size
        self.ec2 = ec2
        self._lock = threading.RLock()
        self._counter_lock = threading.Lock()
        self._operations: dict[str, Callable[[_Ctx, Json], Json | None]] = {
            name: getattr(self, f"_op_{name}") for name in IMPLEMENTED_OPERATIONS
        }
        self._defaults = (seed, max_replicating_servers)
        self._init_state(seed, max_replicating_servers)

    def _init_state(self, seed: int | None, max_replicating_servers: int) -> None:
        self.seed = seed if seed is not None else 0
        self.latency_ms = 0
        self.max_replicating_servers = max_replicating_servers
        self.default_initialized = True
        self._account_initialized: dict[str, bool] = {}
        self._states: dict[tuple[str, str], RegionState] = {}
        self._disabled: set[tuple[str, str]] = set()
        self._trust: dict[str, set[str]] = {}
        self._extensions: dict[str, set[tuple[str, str, str]]] = {}  # staging ARN -> (target, region, id)
        self._faults = FaultSet(rng=random.Random(f"{self.seed}:faults"))
        self._calls: Counter[tuple[str, str, str]] = Counter()
        self._outcomes: Counter[tuple[str, str, str, str]] = Counter()

    # ---------------------------------------------------------------------------- configuration
    def reset(self) -> None:
        """Forget everything: state, trust, faults, counters, latency and seed."""
        with self._lock, self._counter_lock:
            self._init_state(*self._defaults)

    def configure(
        self,
        *,
        seed: int | None = None,
        latency_ms: int | None = None,
        max_replicating_servers: int | None = None,
        default_initialized: bool | None = None,
    ) -> None:
        """Engine-wide settings. ``seed`` drives every id the engine draws (per account and region)."""
        with self._lock:
            if seed is not None:
                self.seed = seed
                self._faults = FaultSet(self._faults.faults, rng=random.Random(f"{seed}:faults"))
            if latency_ms is not None:
                self.latency_ms = max(0, int(latency_ms))
            if max_replicating_servers is not None:
                self.max_replicating_servers = max_replicating_servers
            if default_initialized is not None:
                self.default_initialized = default_initialized

    def set_default_initialized(self, account: str, initialized: bool) -> None:
        """Whether regions of ``account`` that nothing seeded start initialized (engine default: yes)."""
        with self._lock:
            self._account_initialized[account] = initialized

    def set_faults(self, faults: Iterable[dict[str, Any] | Fault]) -> None:
        """Replace all faults (camelCase dicts, see :mod:`sandbox.drs.faults`); raises ``FaultError``."""
        parsed = parse_faults(list(faults))
        with self._lock:
            self._faults = FaultSet(parsed, rng=random.Random(f"{self.seed}:faults"))

    @property
    def faults(self) -> list[dict[str, Any]]:
        return [f.to_wire() for f in self._faults.faults]

    def counters_snapshot(self) -> dict[str, Any]:
        """Calls per (account, region, operation) and per outcome (``OK`` or the error code)."""
        with self._counter_lock:
            calls = [
                {"accountId": a, "region": r, "operation": o, "calls": n}
                for (a, r, o), n in sorted(self._calls.items())
            ]
            outcomes = [
                {"accountId": a, "region": r, "operation": o, "outcome": out, "calls": n}
                for (a, r, o, out), n in sorted(self._outcomes.items())
            ]
            return {"calls": calls, "outcomes": outcomes, "total": sum(self._calls.values())}

    def reset_counters(self) -> None:
        with self._counter_lock:
            self._calls.clear()
            self._outcomes.clear()

    # ------------------------------------------------------------------------------ HTTP entry
    def handle(
        self,
        method: str,
        raw_path: str,
        query: dict[str, list[str]] | None,
        body: bytes | None,
        *,
        account: str,
        region: str,
    ) -> Response:
        """Answer one DRS request for ``account`` in ``region`` (raw, still percent-encoded path)."""
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
        found = shapes.route(method, raw_path)
        if found is None:
            self._count(account, region, "UnknownOperation", "UnknownOperationException")
            return DrsError("UnknownOperationException", f"No DRS operation for {method} {raw_path}").response(headers)
        operation, labels = found
        try:
            status, payload = self._dispatch(operation, labels, query or {}, body or b"", account, region)
        except DrsError as e:
            self._count(account, region, operation, e.code)
            return e.response(headers)
        except Exception as e:  # a simulator bug: answer like AWS would (500) and keep the traceback
            log.exception("DRS simulator failed on %s", operation)
            self._count(account, region, operation, "InternalServerException")
            return DrsError("InternalServerException", f"DRS simulator error: {type(e).__name__}: {e}").response(
                headers
            )
        self._count(account, region, operation, "OK")
        return status, headers, payload

    def _count(self, account: str, region: str, operation: str, outcome: str) -> None:
        with self._counter_lock:
            self._calls[(account, region, operation)] += 1
            self._outcomes[(account, region, operation, outcome)] += 1

    def _dispatch(
        self,
        operation: str,
        labels: dict[str, str],
        query: dict[str, list[str]],
        body: bytes,
        account: str,
        region: str,
    ) -> tuple[int, bytes]:
        op_model = shapes.operation_model(operation)
        input_error: shapes.InputError | None = None
        params: Json = {}
        try:
            params = shapes.parse_input(op_model, labels, query, body)
        except shapes.InputError as e:
            input_error = e
        call = Call(account, region, operation, _staging_account_of(operation, params))
        delay, fault_error = self._faults.evaluate(call)
        delay += self.latency_ms / 1000.0
        if delay:
            time.sleep(delay)
        if (account, region) in self._disabled:
            raise DrsError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                type_suffix=":http://internal.amazon.com/coral/com.amazon.coral.service/",
            )
        if fault_error is not None:
            raise fault_error
        if input_error is None:
            issues = shapes.validate_input(op_model, params)
            if issues:
                input_error = shapes.InputError("fieldValidationFailed", issues)
        if input_error is not None:
            raise DrsError(
                "ValidationException",
                shapes.validation_message(params, input_error.issues),
                reason=input_error.reason,
                fieldList=[{"name": i.path, "message": i.message} for i in input_error.issues[:20]],
            )
        handler = self._operations.get(operation)
        if handler is None:
            raise DrsError(
                "NotImplementedException",
                f"The DRS simulator does not implement {operation}; implemented: {', '.join(IMPLEMENTED_OPERATIONS)}",
            )
        with self._lock:
            state = self._state(account, region)
            if (
                not state.initialized
                and operation != "InitializeService"
                and "UninitializedAccountException" in shapes.operation_errors(operation)
            ):
                raise uninitialized_error()
            payload = handler(_Ctx(self, state, operation), params)
            out = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        return op_model.http.get("responseCode", 200), out

    # ------------------------------------------------------------------------------ state helpers
    def _state(self, account: str, region: str) -> RegionState:
        key = (account, region)
        st = self._states.get(key)
        if st is None:
            rng = random.Random(f"{self.seed}:{account}:{region}")
            st = self._states[key] = RegionState(account, region, initialized=False, rng=rng)
            if self._account_initialized.get(account, self.default_initialized):
                self._initialize(st)
        return st

    def _initialize(self, st: RegionState) -> None:
        st.initialized = True
        if not len(st.templates):
            self._create_template(st)

    def _create_template(self, st: RegionState) -> Json:
        tid = ids.template_id(st.rng)
        subnet = "subnet-" + "".join(st.rng.choice("0123456789abcdef") for _ in range(17))
        tpl: Json = {
            "replicationConfigurationTemplateID": tid,
            "arn": st.arn("replication-configuration-template", tid),
            "stagingAreaSubnetId": subnet,
            "associateDefaultSecurityGroup": True,
            "replicationServersSecurityGroupsIDs": [],
            "replicationServerInstanceType": "t3.small",
            "useDedicatedReplicationServer": False,
            "defaultLargeStagingDiskType": "GP3",
            "ebsEncryption": "DEFAULT",
            "bandwidthThrottling": 0,
            "dataPlaneRouting": "PRIVATE_IP",
            "createPublicIP": False,
            "stagingAreaTags": {},
            "tags": {},
            "autoReplicateNewDisks": True,
            "internetProtocol": "IPV4",
            "pitPolicy": [
                {"ruleID": 1, "units": "MINUTE", "interval": 10, "retentionDuration": 60, "enabled": True},
                {"ruleID": 2, "units": "HOUR", "interval": 1, "retentionDuration": 24, "enabled": True},
                {"ruleID": 3, "units": "DAY", "interval": 1, "retentionDuration": 7, "enabled": True},
            ],
        }
        st.templates.put(tid, tpl)
        return tpl

    def _default_template(self, st: RegionState) -> Json:
        for tpl in st.templates.values():
            return tpl
        return self._create_template(st)

    # ---------------------------------------------------------------------------- seeding API
    def set_initialized(self, account: str, region: str, initialized: bool = True) -> None:
        """Mark DRS initialized (or not) in a region; uninitialized regions answer UninitializedAccount."""
        with self._lock:
            st = self._state(account, region)
            if initialized:
                self._initialize(st)
            else:
                st.initialized = False

    def set_region_enabled(self, account: str, region: str, enabled: bool) -> None:
        """Disable an (opt-in) region for an account: every call answers 403 UnrecognizedClientException."""
        with self._lock:
            if enabled:
                self._disabled.discard((account, region))
            else:
                self._disabled.add((account, region))

    def trust_staging(self, target: str, staging_accounts: Iterable[str]) -> None:
        """Let ``target`` extend source servers of these staging accounts (adds to existing trust)."""
        with self._lock:
            self._trust.setdefault(target, set()).update(staging_accounts)

    def create_source_server(self, account: str, region: str, spec: ServerSpec) -> str:
        """Add a source server as an installed agent would; returns its id. Initializes the region."""
        with self._lock:
            st = self._state(account, region)
            if not st.initialized:
                self._initialize(st)
            return self._new_server(st, spec)["sourceServerID"]

    def launch_recovery_instance(
        self,
        account: str,
        region: str,
        source_server_id: str,
        *,
        drill: bool = True,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Seed a recovery instance (through a completed launch job); returns the recovery instance id."""
        with self._lock:
            st = self._state(account, region)
            job = self._recover(st, [source_server_id], drill=drill, tags=tags or {})
            return job["participatingServers"][0]["recoveryInstanceID"]

    def extend_source_server(
        self, target: str, region: str, staging_server_arn: str, tags: dict[str, str] | None = None
    ) -> str:
        """Seed an extended source server in ``target`` (trust and checks as CreateExtendedSourceServer)."""
        with self._lock:
            st = self._state(target, region)
            return self._extend(st, staging_server_arn, tags or {}, enforce_quota=False)["sourceServerID"]

    def reverse_replication(self, account: str, region: str, recovery_instance_id: str) -> str:
        """Seed reverse replication of a recovery instance; returns the new FAILBACK source server ARN."""
        with self._lock:
            return self._reverse(self._state(account, region), recovery_instance_id)

    # ------------------------------------------------------------------------------ inspection
    def source_servers(self, account: str, region: str) -> list[Json]:
        return self._copy_rows(account, region, "servers")

    def recovery_instances(self, account: str, region: str) -> list[Json]:
        return self._copy_rows(account, region, "recovery_instances")

    def jobs(self, account: str, region: str) -> list[Json]:
        return self._copy_rows(account, region, "jobs")

    def launch_configuration(self, account: str, region: str, source_server_id: str) -> Json:
        with self._lock:
            return copy.deepcopy(self._state(account, region).launch_configs[source_server_id])

    def replication_template_of(self, account: str, region: str, source_server_id: str) -> str:
        """The replication configuration template a server's replication configuration came from."""
        with self._lock:
            return self._state(account, region).server_template[source_server_id]

    def _copy_rows(self, account: str, region: str, table: str) -> list[Json]:
        with self._lock:
            st = self._states.get((account, region))
            return [] if st is None else copy.deepcopy(list(getattr(st, table).values()))

    def regions_of(self, account: str) -> list[str]:
        with self._lock:
            return sorted(r for (a, r) in self._states if a == account)

    def is_initialized(self, account: str, region: str) -> bool:
        with self._lock:
            st = self._states.get((account, region))
            if st is not None:
                return st.initialized
            return self._account_initialized.get(account, self.default_initialized)

    def staging_accounts(self, target: str) -> list[str]:
        with self._lock:
            return sorted(self._trust.get(target, ()))

    # -------------------------------------------------------------------------------- builders
    def _new_server(self, st: RegionState, spec: ServerSpec) -> Json:
        rng = st.rng
        sid = spec.source_server_id or ids.source_server_id(rng)
        now = datetime.now(UTC)
        added = spec.added_days_ago * 86400
        disconnected = spec.replication_state == "DISCONNECTED"
        last_seen = added / 2 if disconnected else rng.uniform(5, 60)
        hints: Json = {"hostname": spec.hostname, "fqdn": spec.fqdn or spec.hostname}
        if spec.aws_instance_id:
            hints["awsInstanceID"] = spec.aws_instance_id
        else:
            hints["vmWareUuid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        mac = spec.mac_address or ids.mac_address(rng)
        ips = list(spec.ips) or [f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(4, 254)}"]
        disks = [{"deviceName": _device_name(i, spec.os), "bytes": g * _GIB} for i, g in enumerate(spec.disks_gib)]
        server: Json = {
            "sourceServerID": sid,
            "arn": st.arn("source-server", sid),
            "tags": dict(spec.tags),
            "lastLaunchResult": "NOT_STARTED",
            "dataReplicationInfo": _replication_info(spec.replication_state, disks, st.region, rng, now),
            "lifeCycle": {
                "addedToServiceDateTime": ids.iso_now(added, now=now),
                "firstByteDateTime": ids.iso_now(max(added - 120, 0), now=now),
                "elapsedReplicationDuration": _duration(added),
                "lastSeenByServiceDateTime": ids.iso_now(last_seen, now=now),
            },
            "sourceProperties": {
                "lastUpdatedDateTime": ids.iso_now(rng.uniform(60, 3600), now=now),
                "recommendedInstanceType": spec.instance_type,
                "identificationHints": hints,
                "networkInterfaces": [{"macAddress": mac, "ips": ips, "isPrimary": True}],
                "disks": disks,
                "cpus": [{"cores": spec.cores, "modelName": "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz"}],
                "ramBytes": spec.ram_gib * _GIB,
                "os": {"fullString": spec.os},
                "supportsNitroInstances": True,
                "architecture": spec.architecture,
            },
            "stagingArea": {"status": "NOT_EXTENDED"},
            "replicationDirection": "FAILOVER",
            "agentVersion": "4.9.2.1",
        }
        if spec.aws_instance_id:
            origin_region = spec.origin_region or st.region
            server["sourceCloudProperties"] = {
                "originAccountID": spec.origin_account or st.account,
                "originRegion": origin_region,
                "originAvailabilityZone": spec.origin_availability_zone or f"{origin_region}a",
            }
        self._register_server(st, server, copy_tags=spec.copy_tags)
        return server

    def _register_server(self, st: RegionState, server: Json, *, copy_tags: bool = False) -> None:
        sid = server["sourceServerID"]
        st.servers.put(sid, server)
        tpl = self._default_template(st)
        st.server_template[sid] = tpl["replicationConfigurationTemplateID"]
        config = {
            k: copy.deepcopy(v)
            for k, v in tpl.items()
            if k not in ("replicationConfigurationTemplateID", "arn", "tags")
        }
        config["replicatedDisks"] = [
            {
                "deviceName": d["deviceName"],
                "isBootDisk": i == 0,
                "stagingDiskType": "AUTO",
                "iops": 0,
                "throughput": 0,
                "optimizedStagingDiskType": "GP3",
            }
            for i, d in enumerate(server["sourceProperties"]["disks"])
        ]
        st.replication_configs[sid] = config
        st.launch_configs[sid] = {
            "ec2LaunchTemplateID": ids.launch_template_id(st.rng),
            "launchDisposition": "STARTED",
            "targetInstanceTypeRightSizingMethod": "BASIC",
            "copyPrivateIp": False,
            "copyTags": copy_tags,
            "licensing": {"osByol": False},
            "postLaunchEnabled": False,
        }

    def _new_job(self, st: RegionState, job_type: str, initiated_by: str, tags: dict[str, str]) -> Json:
        jid = ids.job_id(st.rng)
        now = ids.iso_now()
        job: Json = {
            "jobID": jid,
            "arn": st.arn("job", jid),
            "type": job_type,
            "initiatedBy": initiated_by,
            "creationDateTime": now,
            "endDateTime": now,
            "status": "COMPLETED",
            "participatingServers": [],
            "tags": dict(tags),
        }
        st.jobs.put(jid, job)
        return job

    def _recover(self, st: RegionState, server_ids: list[str], *, drill: bool, tags: dict[str, str]) -> Json:
        """StartRecovery: one job; every launchable server gets a fresh recovery instance (and EC2 instance)."""
        job = self._new_job(st, "LAUNCH", "START_DRILL" if drill else "START_RECOVERY", tags)
        launchable: list[Json] = []
        for sid in server_ids:
            s = st.servers.get(sid)
            if s is not None and s["dataReplicationInfo"]["dataReplicationState"] != "DISCONNECTED":
                launchable.append(s)
        old = [s["recoveryInstanceId"] for s in launchable if s.get("recoveryInstanceId")]
        if old:
            self._terminate(st, old)  # a new launch replaces the server's previous recovery instance
        specs = [
            InstanceSpec(
                tags=self._recovery_instance_tags(st, s),
                instance_type=s["sourceProperties"].get("recommendedInstanceType") or "m5.large",
            )
            for s in launchable
        ]
        launched: dict[str, str] = {}
        for s, info in zip(launchable, self._run_instances(st, specs) if specs else [], strict=True):
            launched[s["sourceServerID"]] = self._new_recovery_instance(st, s, info, job["jobID"], drill)[
                "recoveryInstanceID"
            ]
        for sid in server_ids:  # in request order; unknown or disconnected servers fail to launch
            if sid in launched:
                job["participatingServers"].append(
                    {"sourceServerID": sid, "recoveryInstanceID": launched[sid], "launchStatus": "LAUNCHED"}
                )
            else:
                job["participatingServers"].append({"sourceServerID": sid, "launchStatus": "FAILED"})
        return job
        old = [s["recoveryInstanceId"] for s in launchable if s.get("recoveryInstanceId")]
        if old:
            self._terminate(st, old)  # a new launch replaces the server's previous recovery instance
        infos = self._run_instances(
            st,
            [
                InstanceSpec(
                    tags=self._recovery_instance_tags(st, s),
                    instance_type=s["sourceProperties"].get("recommendedInstanceType") or "m5.large",
                )
                for s in launchable
            ],
        )
        for s, info in zip(launchable, infos, strict=True):
            ri = self._new_recovery_instance(st, s, info, job["jobID"], drill)
            job["participatingServers"].append(
                {
                    "sourceServerID": s["sourceServerID"],
                    "recoveryInstanceID": ri["recoveryInstanceID"],
                    "launchStatus": "LAUNCHED",
                }
            )
        return job

    def _recovery_instance_tags(self, st: RegionState, server: Json) -> dict[str, str]:
        tags = {"Name": server["sourceProperties"]["identificationHints"].get("hostname", server["sourceServerID"])}
        if st.launch_configs.get(server["sourceServerID"], {}).get("copyTags"):
            tags.update({k: v for k, v in server.get("tags", {}).items() if not k.startswith("aws:")})
        return tags

    def _run_instances(self, st: RegionState, specs: list[InstanceSpec]) -> list[InstanceInfo]:
        if self.ec2 is not None:
            return self.ec2.run_instances(st.account, st.region, specs, seed=st.rng.getrandbits(64))
        return [InstanceInfo(ids.ec2_instance_id(st.rng), f"{st.region}a") for _ in specs]

    def _new_recovery_instance(self, st: RegionState, s: Json, info: InstanceInfo, job_id: str, drill: bool) -> Json:
        sp = s["sourceProperties"]
        now = ids.iso_now()
        rid = info.instance_id
        nic = {"macAddress": info.mac_address or ids.mac_address(st.rng), "ips": [info.private_ip or "10.0.0.10"]}
        ri: Json = {
            "recoveryInstanceID": rid,
            "ec2InstanceID": rid,
            "ec2InstanceState": "RUNNING",
            "jobID": job_id,
            "sourceServerID": s["sourceServerID"],
            "arn": st.arn("recovery-instance", rid),
            "tags": {},
            "isDrill": drill,
            "originEnvironment": "AWS" if "sourceCloudProperties" in s else "ON_PREMISES",
            "pointInTimeSnapshotDateTime": ids.iso_now(600),
            "agentVersion": s.get("agentVersion", "4.9.2.1"),
            "failback": {"state": "FAILBACK_NOT_STARTED"},
            "recoveryInstanceProperties": {
                "lastUpdatedDateTime": now,
                "identificationHints": {
                    "hostname": sp["identificationHints"].get("hostname", ""),
                    "awsInstanceID": rid,
                },
                "networkInterfaces": [{**nic, "isPrimary": True}],
                "disks": [
                    {
                        "internalDeviceName": d["deviceName"],
                        "bytes": d["bytes"],
                        "ebsVolumeID": ids.ebs_volume_id(st.rng),
                    }
                    for d in sp.get("disks", [])
                ],
                "cpus": copy.deepcopy(sp.get("cpus", [])),
                "ramBytes": sp.get("ramBytes", 0),
                "os": copy.deepcopy(sp.get("os", {})),
            },
        }
        if "sourceCloudProperties" in s:
            ri["originAvailabilityZone"] = s["sourceCloudProperties"]["originAvailabilityZone"]
        st.recovery_instances.put(rid, ri)
        s["recoveryInstanceId"] = rid
        s["lastLaunchResult"] = "SUCCEEDED"
        s["lifeCycle"]["lastLaunch"] = {
            "initiated": {"apiCallDateTime": now, "jobID": job_id, "type": "DRILL" if drill else "RECOVERY"},
            "status": "LAUNCHED",
        }
        return ri

    def _terminate(self, st: RegionState, recovery_instance_ids: list[str]) -> list[Json]:
        removed = [ri for rid in recovery_instance_ids if (ri := st.recovery_instances.pop(rid)) is not None]
        for ri in removed:
            s = st.servers.get(ri["sourceServerID"])
            if s is not None and s.get("recoveryInstanceId") == ri["recoveryInstanceID"]:
                s.pop("recoveryInstanceId", None)
        if removed and self.ec2 is not None:
            self.ec2.terminate_instances(st.account, st.region, [ri["ec2InstanceID"] for ri in removed])
        return removed

    def _extend(self, st: RegionState, arn: str, tags: dict[str, str], *, enforce_quota: bool) -> Json:
        parsed = ids.parse_arn(arn)
        if parsed is None or parsed.resource_type != "source-server":
            raise DrsError(
                "ValidationException",
                f"Invalid source server ARN: {arn}",
                reason="fieldValidationFailed",
                fieldList=[{"name": "sourceServerArn", "message": "Not a DRS source server ARN"}],
            )
        staging = parsed.account
        if parsed.region != st.region:
            raise DrsError(
                "ValidationException",
                f"Source server {parsed.resource_id} is in {parsed.region}; it can only be extended into the same "
                f"region ({st.region})",
                reason="other",
            )
        if staging == st.account:
            raise DrsError("ValidationException", "Cannot extend a source server into its own account", reason="other")
        self._check_trust(st.account, staging)
        staging_state = self._states.get((staging, st.region))
        src = staging_state.servers.get(parsed.resource_id) if staging_state is not None else None
        if src is None:
            raise DrsError(
                "ResourceNotFoundException",
                f"Source server {arn} not found",
                resourceId=parsed.resource_id,
                resourceType="SOURCE_SERVER",
            )
        if src["stagingArea"].get("status") == "EXTENDED":
            raise DrsError("ValidationException", "An extended source server cannot be extended again", reason="other")
        if any(t == st.account and r == st.region for t, r, _ in self._extensions.get(arn, ())):
            raise DrsError(
                "ValidationException", f"Source server {arn} is already extended into this account", reason="other"
            )
        if enforce_quota and st.replicating_count() >= self.max_replicating_servers:
            raise DrsError(
                "ServiceQuotaExceededException",
                f"Extending would exceed the quota of {self.max_replicating_servers} replicating source servers in "
                f"account {st.account} ({st.region})",
                resourceId=parsed.resource_id,
                resourceType="SOURCE_SERVER",
                serviceCode="drs",
                quotaCode=REPLICATING_QUOTA_CODE,
            )
        sid = ids.source_server_id(st.rng)
        server = copy.deepcopy({k: v for k, v in src.items() if k not in ("recoveryInstanceId", "tags")})
        server.update(
            {
                "sourceServerID": sid,
                "arn": st.arn("source-server", sid),
                "tags": dict(tags),
                "lastLaunchResult": "NOT_STARTED",
                "stagingArea": {"status": "EXTENDED", "stagingAccountID": staging, "stagingSourceServerArn": arn},
            }
        )
        server["lifeCycle"].pop("lastLaunch", None)
        server["lifeCycle"]["addedToServiceDateTime"] = ids.iso_now()
        self._register_server(st, server)
        self._extensions.setdefault(arn, set()).add((st.account, st.region, sid))
        return server

    def _check_trust(self, target: str, staging: str) -> None:
        if staging not in self._trust.get(target, ()):
            raise DrsError(
                "AccessDeniedException",
                f"Account {target} is not trusted by staging account {staging}",
            )

    def _reverse(self, st: RegionState, recovery_instance_id: str) -> str:
        ri = st.recovery_instances.get(recovery_instance_id)
        if ri is None:
            raise DrsError(
                "ResourceNotFoundException",
                f"Recovery instance {recovery_instance_id} not found",
                resourceId=recovery_instance_id,
                resourceType="RECOVERY_INSTANCE",
            )
        original = st.servers.get(ri["sourceServerID"])
        if original is None or "sourceCloudProperties" not in original:
            raise DrsError(
                "ValidationException",
                "Reverse replication is only supported for source servers that run in AWS",
                reason="other",
            )
        existing = original.get("reversedDirectionSourceServerArn")
        if existing:
            return existing  # idempotent: the reversed server already exists
        origin = original["sourceCloudProperties"]
        origin_region = origin["originRegion"]
        if origin_region == st.region:
            raise DrsError(
                "ValidationException",
                "Reverse replication needs the original source region to differ from the recovery region",
                reason="other",
            )
        target = self._state(st.account, origin_region)
        if not target.initialized:
            raise DrsError(
                "ValidationException",
                f"Elastic Disaster Recovery is not initialized in {origin_region}",
                reason="other",
            )
        sp = original["sourceProperties"]
        spec = ServerSpec(
            hostname=sp["identificationHints"].get("hostname", ""),
            fqdn=sp["identificationHints"].get("fqdn"),
            aws_instance_id=ri["ec2InstanceID"],
            origin_account=st.account,
            origin_region=st.region,
            origin_availability_zone=ri.get("originAvailabilityZone") or f"{st.region}a",
            replication_state="INITIAL_SYNC",
            os=sp["os"].get("fullString", ""),
            architecture=sp.get("architecture", "x86_64"),
            cores=sp["cpus"][0]["cores"] if sp.get("cpus") else 2,
            ram_gib=max(1, sp.get("ramBytes", 0) // _GIB),
            disks_gib=tuple(max(1, d["bytes"] // _GIB) for d in sp.get("disks", [])) or (20,),
            ips=tuple(ri["recoveryInstanceProperties"]["networkInterfaces"][0]["ips"]),
            instance_type=sp.get("recommendedInstanceType", "m5.large"),
            tags=dict(original.get("tags", {})),
            added_days_ago=0.0,
        )
        reversed_server = self._new_server(target, spec)
        reversed_server["replicationDirection"] = "FAILBACK"
        reversed_server["reversedDirectionSourceServerArn"] = original["arn"]
        original["reversedDirectionSourceServerArn"] = reversed_server["arn"]
        ri["failback"] = {
            "state": "FAILBACK_IN_PROGRESS",
            "failbackInitiationTime": ids.iso_now(),
            "failbackToOriginalServer": False,
            "failbackLaunchType": "RECOVERY",
        }
        return reversed_server["arn"]

    # ------------------------------------------------------------------------------- pagination
    def _page(
        self,
        ctx: _Ctx,
        table: _Table,
        rows: list[Json],
        params: Json,
        *,
        key: str,
        result_key: str = "items",
        model_max: int | None = None,
        project: Callable[[Json], Json] = lambda r: r,
    ) -> Json:
        size = params.get("maxResults") or min(self.default_page_size, model_max or self.default_page_size)
        after = _decode_token(ctx.operation, params.get("nextToken"))
        if after is not None:
            rows = [r for r in rows if table.seq.get(r[key], -1) > after]
        page = rows[:size]
        out: Json = {result_key: [project(r) for r in page]}
        if len(rows) > size:
            out["nextToken"] = _encode_token(ctx.operation, table.seq[page[-1][key]])
        return out

    # ------------------------------------------------------------------------------- operations
    def _op_InitializeService(self, ctx: _Ctx, p: Json) -> None:
        self._initialize(ctx.state)

    def _op_DescribeSourceServers(self, ctx: _Ctx, p: Json) -> Json:
        f = p.get("filters") or {}
        rows: Iterable[Json] = ctx.state.servers.values()
        if f.get("sourceServerIDs"):
            wanted = set(f["sourceServerIDs"])
            rows = (s for s in rows if s["sourceServerID"] in wanted)
        if f.get("hardwareId"):
            rows = (s for s in rows if f["hardwareId"] in _hardware_ids(s))
        if f.get("stagingAccountIDs"):
            accounts = set(f["stagingAccountIDs"])
            rows = (s for s in rows if s["stagingArea"].get("stagingAccountID") in accounts)
        return self._page(ctx, ctx.state.servers, list(rows), p, key="sourceServerID")

    def _op_DescribeRecoveryInstances(self, ctx: _Ctx, p: Json) -> Json:
        f = p.get("filters") or {}
        rows: Iterable[Json] = ctx.state.recovery_instances.values()
        if f.get("recoveryInstanceIDs"):
            wanted = set(f["recoveryInstanceIDs"])
            rows = (r for r in rows if r["recoveryInstanceID"] in wanted)
        if f.get("sourceServerIDs"):
            wanted_servers = set(f["sourceServerIDs"])
            rows = (r for r in rows if r["sourceServerID"] in wanted_servers)
        return self._page(ctx, ctx.state.recovery_instances, list(rows), p, key="recoveryInstanceID")

    def _op_DescribeJobs(self, ctx: _Ctx, p: Json) -> Json:
        f = p.get("filters") or {}
        rows: Iterable[Json] = ctx.state.jobs.values()
        if f.get("jobIDs"):
            wanted = set(f["jobIDs"])
            rows = (j for j in rows if j["jobID"] in wanted)
        if f.get("fromDate"):
            start = _parse_iso(f["fromDate"], "filters.fromDate")
            rows = (j for j in rows if _parse_iso(j["creationDateTime"]) >= start)
        if f.get("toDate"):
            end = _parse_iso(f["toDate"], "filters.toDate")
            rows = (j for j in rows if _parse_iso(j["creationDateTime"]) <= end)
        return self._page(ctx, ctx.state.jobs, list(rows), p, key="jobID")

    def _op_DescribeReplicationConfigurationTemplates(self, ctx: _Ctx, p: Json) -> Json:
        rows = list(ctx.state.templates.values())
        wanted = p.get("replicationConfigurationTemplateIDs")
        if wanted:
            missing = sorted(set(wanted) - set(ctx.state.templates.rows))
            if missing:
                raise DrsError(
                    "ResourceNotFoundException",
                    f"Replication configuration template {missing[0]} not found",
                    resourceId=missing[0],
                    resourceType="REPLICATION_CONFIGURATION_TEMPLATE",
                )
            rows = [t for t in rows if t["replicationConfigurationTemplateID"] in set(wanted)]
        return self._page(ctx, ctx.state.templates, rows, p, key="replicationConfigurationTemplateID")

    def _op_GetReplicationConfiguration(self, ctx: _Ctx, p: Json) -> Json:
        s = ctx.state.server(p["sourceServerID"])
        config = ctx.state.replication_configs[s["sourceServerID"]]
        return {
            "sourceServerID": s["sourceServerID"],
            "name": s["sourceProperties"]["identificationHints"].get("hostname", "")[:128],
            **config,
        }

    def _op_GetLaunchConfiguration(self, ctx: _Ctx, p: Json) -> Json:
        s = ctx.state.server(p["sourceServerID"])
        return self._launch_configuration(ctx.state, s)

    def _op_UpdateLaunchConfiguration(self, ctx: _Ctx, p: Json) -> Json:
        s = ctx.state.server(p["sourceServerID"])
        config = ctx.state.launch_configs[s["sourceServerID"]]
        for k, v in p.items():
            if k != "sourceServerID":
                config[k] = copy.deepcopy(v)
        return self._launch_configuration(ctx.state, s)

    @staticmethod
    def _launch_configuration(st: RegionState, s: Json) -> Json:
        config = st.launch_configs[s["sourceServerID"]]
        name = config.get("name") or s["sourceProperties"]["identificationHints"].get("hostname", "")
        return {
            "sourceServerID": s["sourceServerID"],
            "name": name[:128],
            **{k: v for k, v in config.items() if k != "name"},
        }

    def _op_ListStagingAccounts(self, ctx: _Ctx, p: Json) -> Json:
        accounts = set(self._trust.get(ctx.account, ()))
        accounts.update(
            s["stagingArea"]["stagingAccountID"]
            for s in ctx.state.servers.values()
            if s["stagingArea"].get("status") == "EXTENDED"
        )
        rows = [{"accountID": a} for a in sorted(accounts)]
        size = p.get("maxResults") or 50
        after = _decode_token(ctx.operation, p.get("nextToken")) or 0
        out: Json = {"accounts": rows[after : after + size]}
        if after + size < len(rows):
            out["nextToken"] = _encode_token(ctx.operation, after + size)
        return out

    def _op_ListExtensibleSourceServers(self, ctx: _Ctx, p: Json) -> Json:
        staging = p["stagingAccountID"]
        self._check_trust(ctx.account, staging)
        staging_state = self._states.get((staging, ctx.region))
        if staging_state is None:
            return {"items": []}
        rows = [
            s
            for s in staging_state.servers.values()
            if s["stagingArea"].get("status") != "EXTENDED"
            and s.get("replicationDirection", "FAILOVER") == "FAILOVER"
            and s["dataReplicationInfo"]["dataReplicationState"] != "DISCONNECTED"
            and not any(t == ctx.account and r == ctx.region for t, r, _ in self._extensions.get(s["arn"], ()))
        ]
        return self._page(
            ctx,
            staging_state.servers,
            rows,
            p,
            key="sourceServerID",
            model_max=300,
            project=lambda s: {
                "hostname": s["sourceProperties"]["identificationHints"].get("hostname", ""),
                "arn": s["arn"],
                "tags": dict(s.get("tags", {})),
            },
        )

    def _op_CreateExtendedSourceServer(self, ctx: _Ctx, p: Json) -> Json:
        return {"sourceServer": self._extend(ctx.state, p["sourceServerArn"], p.get("tags") or {}, enforce_quota=True)}

    def _resource(self, ctx: _Ctx, arn: str) -> Json:
        parsed = ids.parse_arn(arn)
        table = _TAGGABLE.get(parsed.resource_type) if parsed else None
        row = None
        if parsed and table and parsed.account == ctx.account and parsed.region == ctx.region:
            row = getattr(ctx.state, table).get(parsed.resource_id)
        if row is None:
            raise DrsError("ResourceNotFoundException", f"Resource {arn} not found", resourceId=arn)
        return row

    def _op_TagResource(self, ctx: _Ctx, p: Json) -> None:
        reserved = sorted(k for k in p["tags"] if k.lower().startswith("aws:"))
        if reserved:
            raise DrsError(
                "ValidationException",
                f"Tag keys starting with 'aws:' are reserved: {', '.join(reserved)}",
                reason="fieldValidationFailed",
                fieldList=[{"name": "tags", "message": f"reserved tag key {k}"} for k in reserved],
            )
        row = self._resource(ctx, p["resourceArn"])
        row.setdefault("tags", {}).update(p["tags"])

    def _op_UntagResource(self, ctx: _Ctx, p: Json) -> None:
        row = self._resource(ctx, p["resourceArn"])
        for k in p["tagKeys"]:
            row.get("tags", {}).pop(k, None)

    def _op_ListTagsForResource(self, ctx: _Ctx, p: Json) -> Json:
        return {"tags": dict(self._resource(ctx, p["resourceArn"]).get("tags", {}))}

    def _op_StartRecovery(self, ctx: _Ctx, p: Json) -> Json:
        server_ids = [x["sourceServerID"] for x in p["sourceServers"]]
        return {"job": self._recover(ctx.state, server_ids, drill=bool(p.get("isDrill")), tags=p.get("tags") or {})}

    def _op_TerminateRecoveryInstances(self, ctx: _Ctx, p: Json) -> Json:
        job = self._new_job(ctx.state, "TERMINATE", "TERMINATE_RECOVERY_INSTANCES", {})
        for ri in self._terminate(ctx.state, list(p["recoveryInstanceIDs"])):
            job["participatingServers"].append(
                {
                    "sourceServerID": ri["sourceServerID"],
                    "recoveryInstanceID": ri["recoveryInstanceID"],
                    "launchStatus": "TERMINATED",
                }
            )
        return {"job": job}

    def _op_DisconnectSourceServer(self, ctx: _Ctx, p: Json) -> Json:
        s = ctx.state.server(p["sourceServerID"])
        if s.get("recoveryInstanceId"):
            raise DrsError(
                "ConflictException",
                "Cannot disconnect a source server that has a recovery instance; terminate it first",
                resourceId=s["sourceServerID"],
                resourceType="SOURCE_SERVER",
            )
        s["dataReplicationInfo"] = {"dataReplicationState": "DISCONNECTED", "replicatedDisks": []}
        return s

    def _op_DeleteSourceServer(self, ctx: _Ctx, p: Json) -> None:
        s = ctx.state.server(p["sourceServerID"])
        if s.get("recoveryInstanceId") or s["dataReplicationInfo"]["dataReplicationState"] != "DISCONNECTED":
            raise DrsError(
                "ConflictException",
                "Source server must be disconnected and have no recovery instance before it can be deleted",
                resourceId=s["sourceServerID"],
                resourceType="SOURCE_SERVER",
            )
        sid = s["sourceServerID"]
        ctx.state.servers.pop(sid)
        ctx.state.launch_configs.pop(sid, None)
        ctx.state.replication_configs.pop(sid, None)
        ctx.state.server_template.pop(sid, None)
        staging_arn = s["stagingArea"].get("stagingSourceServerArn")
        if staging_arn:
            self._extensions.get(staging_arn, set()).discard((ctx.account, ctx.region, sid))
        for target, region, ext_id in self._extensions.pop(s["arn"], set()):
            ext = self._states[(target, region)].servers.get(ext_id)
            if ext is not None:
                ext["stagingArea"]["status"] = "EXTENSION_ERROR"
                ext["stagingArea"]["errorMessage"] = f"Staging source server {s['arn']} was deleted"

    def _op_ReverseReplication(self, ctx: _Ctx, p: Json) -> Json:
        return {"reversedDirectionSourceServerArn": self._reverse(ctx.state, p["recoveryInstanceID"])}


# ------------------------------------------------------------------------------------ helpers
def _staging_account_of(operation: str, params: Json) -> str | None:
    if operation == "ListExtensibleSourceServers":
        value = params.get("stagingAccountID")
        return value if isinstance(value, str) else None
    if operation == "CreateExtendedSourceServer" and isinstance(params.get("sourceServerArn"), str):
        parsed = ids.parse_arn(params["sourceServerArn"])
        return parsed.account if parsed else None
    return None


def _hardware_ids(s: Json) -> set[str]:
    hints = s["sourceProperties"]["identificationHints"]
    out = {hints.get("awsInstanceID"), hints.get("vmWareUuid")}
    out.update(n.get("macAddress") for n in s["sourceProperties"].get("networkInterfaces", []))
    out.discard(None)
    return out  # type: ignore[return-value]


def _duration(seconds: float) -> str:
    """ISO-8601 duration, coarse as DRS shows it: ``P30D`` or ``PT45M``."""
    if seconds >= 86400:
        return f"P{int(seconds // 86400)}D"
    return f"PT{max(1, int(seconds // 60))}M"


def _device_name(index: int, os_name: str) -> str:
    if "windows" in os_name.lower():
        return f"Disk{index}"
    return "/dev/xvda" if index == 0 else f"/dev/xvd{chr(ord('a') + index)}"


def _replication_info(state: str, disks: list[Json], region: str, rng: random.Random, now: datetime) -> Json:
    if state == "DISCONNECTED":
        return {"dataReplicationState": "DISCONNECTED", "replicatedDisks": []}
    replicated = []
    for d in disks:
        total = d["bytes"]
        done = total if state not in ("INITIAL_SYNC", "INITIATING") else int(total * rng.uniform(0.05, 0.95))
        backlog = int(total * rng.uniform(0.001, 0.05)) if state == "BACKLOG" else 0
        replicated.append(
            {
                "deviceName": d["deviceName"],
                "totalStorageBytes": total,
                "replicatedStorageBytes": done,
                "rescannedStorageBytes": 0,
                "backloggedStorageBytes": backlog,
            }
        )
    info: Json = {
        "dataReplicationState": state,
        "lagDuration": "PT0S" if state == "CONTINUOUS" else f"PT{rng.randint(2, 180)}M",
        "replicatedDisks": replicated,
        "stagingAvailabilityZone": f"{region}a",
    }
    if state in ("INITIAL_SYNC", "INITIATING"):
        info["etaDateTime"] = ids.iso_now(-rng.uniform(600, 7200), now=now)
    if state == "STALLED":
        info["dataReplicationError"] = {"error": "AGENT_NOT_SEEN", "rawError": "Agent has not been seen for 1 hour"}
    return info


def _encode_token(operation: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{operation}:{position}".encode()).decode()


def _decode_token(operation: str, token: str | None) -> int | None:
    if not token:
        return None
    try:
        op, _, position = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if op != operation:
            raise ValueError(op)
        return int(position)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise DrsError(
            "ValidationException",
            "Invalid nextToken",
            reason="fieldValidationFailed",
            fieldList=[{"name": "nextToken", "message": "The pagination token is not valid for this request"}],
        ) from None


def _parse_iso(value: str, field_name: str | None = None) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DrsError(
            "ValidationException",
            f"Invalid date {value!r}",
            reason="fieldValidationFailed",
            fieldList=[{"name": field_name or "date", "message": "Not an ISO-8601 date"}],
        ) from None
