"""The DRS simulator engine: one request in, the restJson1 answer out; seeding and inspection for Python callers.

The engine knows nothing about HTTP servers: a front-end (the moto plugin or :mod:`sandbox.drs.server`)
hands it one request at a time::

    status, headers, body = engine.handle("POST", "/DescribeSourceServers", {}, b"{}",
                                          account="111111111111", region="us-east-1")

and gets back the restJson1 answer botocore expects (routes, status codes and error shapes come from
botocore's model, see :mod:`sandbox.drs.shapes`). Seeding and inspection are plain Python methods
(:meth:`DrsEngine.create_source_server`, :meth:`DrsEngine.source_servers` ...); :mod:`sandbox.fleet` uses
them to build a whole estate.

Where the rest lives: :mod:`~sandbox.drs.state` (the estate and its tables), :mod:`~sandbox.drs.operations`
(the operation registry over :mod:`~sandbox.drs.servers`, :mod:`~sandbox.drs.recovery`,
:mod:`~sandbox.drs.jobs`, :mod:`~sandbox.drs.staging`, :mod:`~sandbox.drs.tagging`,
:mod:`~sandbox.drs.configuration`), :mod:`~sandbox.drs.paging`, :mod:`~sandbox.drs.faults`,
:mod:`~sandbox.drs.counters` and :mod:`~sandbox.drs.clock` (every read of time).

Thread safety: one re-entrant lock guards all state; an operation runs and its answer is serialised
under it. Fault latency is slept outside the lock, so a slow region does not stall the others.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from . import clock, events, jobs, recovery, servers, service_faults, shapes, staging
from .counters import CallCounters
from .errors import DrsError, unrecognized_client
from .faults import Call, Fault, FaultSet, parse_faults, uninitialized_error
from .operations import IMPLEMENTED_OPERATIONS, OPERATIONS
from .specs import Ec2Bridge, Json, ServerSpec
from .state import DEFAULT_MAX_REPLICATING_SERVERS, DEFAULT_PAGE_SIZE, Ctx, Estate, RegionState

__all__ = ["DrsEngine"]

log = logging.getLogger(__name__)

Response = tuple[int, dict[str, str], bytes]


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
        self._lock = threading.RLock()
        self._counters = CallCounters()
        self._estate = Estate(default_page_size=default_page_size, ec2=ec2)
        self._defaults = (seed, max_replicating_servers)
        self._init_state(seed, max_replicating_servers)
        # Where the events go (sandbox/eventbridge.py: put(account, region, event, delay=...)); None: nowhere.
        self.event_sink: Callable[..., Any] | None = None

    def emit(self, account: str, region: str, event: Json | Callable[[], Json | None], delay: float) -> None:
        """Hand one event of (account, region) to EventBridge, `delay` seconds on (a callable is read then)."""
        if self.event_sink is not None:
            self.event_sink(account, region, event, delay=delay)

    def _init_state(self, seed: int | None, max_replicating_servers: int) -> None:
        self._estate.clear(seed=seed if seed is not None else 0, max_replicating_servers=max_replicating_servers)
        self.latency_ms = 0
        self._faults = FaultSet(rng=random.Random(f"{self.seed}:faults"))
        self._counters.clear()

    @property
    def seed(self) -> int:
        """Drives every id the engine draws (per account and region)."""
        return self._estate.seed

    @property
    def ec2(self) -> Ec2Bridge | None:
        """Creates the EC2 instances behind recovery instances (the moto plugin installs one)."""
        return self._estate.ec2

    @ec2.setter
    def ec2(self, bridge: Ec2Bridge | None) -> None:
        self._estate.ec2 = bridge

    # ---------------------------------------------------------------------------- configuration
    def reset(self) -> None:
        """Forget everything: state, trust, faults, counters, latency and seed."""
        with self._lock:
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
                self._estate.seed = seed
                self._faults = FaultSet(self._faults.faults, rng=random.Random(f"{seed}:faults"))
            if latency_ms is not None:
                self.latency_ms = max(0, int(latency_ms))
            if max_replicating_servers is not None:
                self._estate.max_replicating_servers = max_replicating_servers
            if default_initialized is not None:
                self._estate.default_initialized = default_initialized

    def set_default_initialized(self, account: str, initialized: bool) -> None:
        """Whether regions of ``account`` that nothing seeded start initialized (engine default: yes)."""
        with self._lock:
            self._estate.account_initialized[account] = initialized

    def set_faults(self, faults: Iterable[dict[str, Any] | Fault]) -> None:
        """Replace all faults (camelCase dicts, see :mod:`sandbox.drs.faults`); raises ``FaultError``."""
        parsed = parse_faults(list(faults))
        with self._lock:
            self._faults = FaultSet(parsed, rng=random.Random(f"{self.seed}:faults"))

    def fault_answer(self, call: Call) -> tuple[float, DrsError | None]:
        """(delay, error or None) for an EC2 or STS call: the faults', or AWS's answer in a region not enabled."""
        delay, error = self._faults.evaluate(call)
        if (call.account, call.region) in self._estate.disabled:
            error = service_faults.not_enabled_answer(call)
        return delay, error

    @property
    def faults(self) -> list[dict[str, Any]]:
        return [f.to_wire() for f in self._faults.faults]

    def counters_snapshot(self) -> dict[str, Any]:
        """Calls per (account, region, operation) and per outcome (``OK`` or the error code)."""
        return self._counters.snapshot()

    def reset_counters(self) -> None:
        self._counters.clear()

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
            self._counters.count(account, region, "UnknownOperation", "UnknownOperationException")
            return DrsError("UnknownOperationException", f"No DRS operation for {method} {raw_path}").response(headers)
        operation, labels = found
        try:
            status, payload = self._dispatch(operation, labels, query or {}, body or b"", account, region)
        except DrsError as e:
            self._counters.count(account, region, operation, e.code)
            if events.changes_something(operation):
                record = events.api_call(operation, account, region, None, error=(e.code, e.message))
                self.emit(account, region, record, events.API_CALL_DELAY_SECONDS)
            return e.response(headers)
        except Exception as e:  # a simulator bug: answer like AWS would (500) and keep the traceback
            log.exception("DRS simulator failed on %s", operation)
            self._counters.count(account, region, operation, "InternalServerException")
            message = f"DRS simulator error: {type(e).__name__}: {e}"
            return DrsError("InternalServerException", message).response(headers)
        self._counters.count(account, region, operation, "OK")
        return status, headers, payload

    def _dispatch(
        self,
        operation: str,
        labels: dict[str, str],
        query: dict[str, list[str]],
        body: bytes,
        account: str,
        region: str,
    ) -> tuple[int, bytes]:
        """The order AWS applies: latency, the front door (region, IAM, throttling), validation, the operation."""
        op_model = shapes.operation_model(operation)
        input_error: shapes.InputError | None = None
        params: Json = {}
        try:
            params = shapes.parse_input(op_model, labels, query, body)
        except shapes.InputError as e:
            input_error = e
        self._front_door(Call(account, region, operation, staging.staging_account_of(operation, params)))
        _validate(op_model, params, input_error)
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise DrsError(
                "NotImplementedException",
                f"The DRS simulator does not implement {operation}; implemented: {', '.join(IMPLEMENTED_OPERATIONS)}",
            )
        with self._lock:
            state = self._estate.region(account, region)
            if (
                not state.initialized
                and operation != "InitializeService"
                and "UninitializedAccountException" in shapes.operation_errors(operation)
            ):
                raise uninitialized_error()
            jobs.progress(state)
            payload = handler(Ctx(self._estate, state, operation), params)
            out = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
            if events.changes_something(operation):
                self._emit_call(operation, account, region, params, payload)
        status: int = op_model.http.get("responseCode", 200)
        return status, out

    def _front_door(self, call: Call) -> None:
        """Latency (outside the lock), then a region not enabled, then the faults' errors."""
        delay, fault_error = self._faults.evaluate(call)
        delay += self.latency_ms / 1000.0
        if delay:
            clock.sleep(delay)
        if (call.account, call.region) in self._estate.disabled:
            raise unrecognized_client()
        if fault_error is not None:
            raise fault_error

    def _emit_call(self, operation: str, account: str, region: str, params: Json, payload: Any) -> None:
        self.emit(account, region, events.api_call(operation, account, region, params), events.API_CALL_DELAY_SECONDS)
        if operation == "StartRecovery" and isinstance(payload, dict):
            job = payload["job"]
            for p in job.get("participatingServers", []):
                result = self._launch_result(account, region, job["jobID"], p["sourceServerID"])
                self.emit(account, region, result, jobs.JOB_SECONDS["LAUNCH"] + events.SERVICE_EVENT_DELAY_SECONDS)

    def _launch_result(self, account: str, region: str, job_id: str, sid: str) -> Callable[[], Json | None]:
        """DRS's Launch Result event of one server of a launch job, as it stands when the job has ended."""

        def read() -> Json | None:
            with self._lock:
                st = self._estate.region(account, region)
                jobs.progress(st)
                job = st.jobs.get(job_id)
                if job is None or job["status"] != "COMPLETED":
                    return None
                kind = "DRILL" if job.get("initiatedBy") == "START_DRILL" else "RECOVERY"
                launched = any(
                    p["sourceServerID"] == sid and p.get("launchStatus") == "LAUNCHED"
                    for p in job["participatingServers"]
                )
                server = st.servers.get(sid) or {}
            state = f"{kind}_LAUNCH_{'SUCCEEDED' if launched else 'FAILED'}"
            return events.service_event(
                events.LAUNCH_RESULT, [server.get("arn", sid)], {"state": state, "job-id": job_id}
            )

        return read

    def stall_replication(self, account: str, region: str, source_server_ids: Iterable[str]) -> None:
        """Replication of these servers stalls (the agent is no longer seen), and DRS says so by an event."""
        with self._lock:
            st = self._estate.region(account, region)
            found = {sid: st.servers.get(sid) for sid in source_server_ids}
            missing = sorted(sid for sid, s in found.items() if s is None)
            if missing:
                raise KeyError(f"no source servers {missing} in {account}/{region}")
            stalled = [s for s in found.values() if s is not None]
            for s in stalled:
                s["dataReplicationInfo"] = {
                    **s["dataReplicationInfo"],
                    "dataReplicationState": "STALLED",
                    "dataReplicationError": {"error": "AGENT_NOT_SEEN", "rawError": "Agent has not been seen"},
                }
        for s in stalled:
            event = events.service_event(events.REPLICATION_STALLED, [s["arn"]], {"state": "STALLED"})
            self.emit(account, region, event, events.SERVICE_EVENT_DELAY_SECONDS)

    # ---------------------------------------------------------------------------- seeding API
    def set_initialized(self, account: str, region: str, initialized: bool = True) -> None:
        """Mark DRS initialized (or not) in a region; uninitialized regions answer UninitializedAccount."""
        with self._lock:
            st = self._estate.region(account, region)
            if initialized:
                st.initialize()
            else:
                st.initialized = False

    def set_region_enabled(self, account: str, region: str, enabled: bool) -> None:
        """Disable an (opt-in) region for an account: every call answers 403 UnrecognizedClientException."""
        with self._lock:
            if enabled:
                self._estate.disabled.discard((account, region))
            else:
                self._estate.disabled.add((account, region))

    def trust_staging(self, target: str, staging_accounts: Iterable[str]) -> None:
        """Let ``target`` extend source servers of these staging accounts (adds to existing trust)."""
        with self._lock:
            self._estate.trust.setdefault(target, set()).update(staging_accounts)

    def create_source_server(self, account: str, region: str, spec: ServerSpec) -> str:
        """Add a source server as an installed agent would; returns its id. Initializes the region."""
        with self._lock:
            st = self._estate.region(account, region)
            if not st.initialized:
                st.initialize()
            sid: str = servers.new_server(st, spec)["sourceServerID"]
            return sid

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
            st = self._estate.region(account, region)
            job = recovery.recover(self._estate, st, [source_server_id], drill=drill, tags=tags or {})
            rid: str = job["participatingServers"][0]["recoveryInstanceID"]
            return rid

    def extend_source_server(
        self, target: str, region: str, staging_server_arn: str, tags: dict[str, str] | None = None
    ) -> str:
        """Seed an extended source server in ``target`` (trust and checks as CreateExtendedSourceServer)."""
        with self._lock:
            st = self._estate.region(target, region)
            server = staging.extend(self._estate, st, staging_server_arn, tags or {}, enforce_quota=False)
            sid: str = server["sourceServerID"]
            return sid

    def reverse_replication(self, account: str, region: str, recovery_instance_id: str) -> str:
        """Seed reverse replication of a recovery instance; returns the new FAILBACK source server ARN."""
        with self._lock:
            return recovery.reverse(self._estate, self._estate.region(account, region), recovery_instance_id)

    # ------------------------------------------------------------------------------ inspection
    def source_servers(self, account: str, region: str) -> list[Json]:
        return self._copy_rows(account, region, lambda st: st.servers.values())

    def recovery_instances(self, account: str, region: str) -> list[Json]:
        return self._copy_rows(account, region, lambda st: st.recovery_instances.values())

    def jobs(self, account: str, region: str) -> list[Json]:
        return self._copy_rows(account, region, lambda st: st.jobs.values())

    def launch_configuration(self, account: str, region: str, source_server_id: str) -> Json:
        with self._lock:
            return copy.deepcopy(self._estate.region(account, region).launch_configs[source_server_id])

    def replication_template_of(self, account: str, region: str, source_server_id: str) -> str:
        """The replication configuration template a server's replication configuration came from."""
        with self._lock:
            return self._estate.region(account, region).server_template[source_server_id]

    def _copy_rows(self, account: str, region: str, rows: Callable[[RegionState], Iterable[Json]]) -> list[Json]:
        with self._lock:
            st = self._estate.existing(account, region)
            if st is None:
                return []
            jobs.progress(st)
            return copy.deepcopy(list(rows(st)))

    def regions_of(self, account: str) -> list[str]:
        with self._lock:
            return sorted(r for (a, r) in self._estate.regions if a == account)

    def is_initialized(self, account: str, region: str) -> bool:
        with self._lock:
            return self._estate.is_initialized(account, region)

    def staging_accounts(self, target: str) -> list[str]:
        with self._lock:
            return sorted(self._estate.trust.get(target, ()))


def _validate(op_model: Any, params: Json, input_error: shapes.InputError | None) -> None:
    """Server-side input validation: a parse error, or the first 20 issues against the input shape."""
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
