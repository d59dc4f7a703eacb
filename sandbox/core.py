"""`Sandbox`: the real template deployed into moto, the real state machines running the real handlers.

    with Sandbox(fleet="events/fleets/demo.yaml") as sb:
        summary = sb.run_sync("inventory")
        rows = sb.items("inventory")

Entering sets a dummy AWS environment (no real profile or endpoint can leak in), starts moto with
executing Step Functions, registers the DRS simulator, deploys the template (`sandbox.stack`), plugs
the handlers in (`sandbox.local_lambda`), shrinks Retry/Wait/SDK sleeps (`sandbox.waits`) and seeds
the fleet. Leaving undoes all of it, so sandboxes can follow one another in one process (one at a time).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

from . import stack
from .local_lambda import LocalFunction, LocalLambda
from .waits import FastWaits

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
STACK_ACCOUNT = stack.DEFAULT_ACCOUNT
STACK_REGION = stack.DEFAULT_REGION
DEFAULT_ROLE_NAME = "DrsFleetSyncRole"
# The syncs in the order the demo runs them; others the template defines follow alphabetically.
SYNC_ORDER = ("inventory", "tags", "staging", "recovery-instances")
_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class SandboxError(RuntimeError):
    """Misuse of the sandbox or a name it does not know (unknown sync, table, function)."""


def resolve_path(path: str | Path) -> Path:
    """A path as given if it exists, else relative to the project root (so the CLI works anywhere)."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p.resolve()
    candidate = PROJECT_ROOT / p
    return candidate.resolve() if candidate.exists() else p.resolve()


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def plain(value: Any) -> Any:
    """DynamoDB values as plain JSON types: Decimal -> int/float, sets -> sorted lists, Binary -> base64."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=lambda v: (str(type(v)), v))
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value") and isinstance(value.value, (bytes, bytearray)):  # boto3 Binary
        return base64.b64encode(bytes(value.value)).decode()
    return value


class Sandbox:
    """The stack of `template` in moto, with `fleet` seeded into the DRS simulator."""

    _active: Sandbox | None = None
    _active_lock = threading.Lock()

    def __init__(
        self,
        fleet: str | Path | dict[str, Any] | None = None,
        template: str | Path = "template.yaml",
        parameters: dict[str, Any] | None = None,
        wait_scale: float = 0.0,
        *,
        stack_name: str = stack.DEFAULT_STACK_NAME,
    ) -> None:
        self.fleet_source = fleet
        self.template = resolve_path(template)
        self.parameters = dict(parameters or {})
        self.wait_scale = wait_scale
        self.stack_name = stack_name
        self.account = STACK_ACCOUNT
        self.region = STACK_REGION
        self.deployment: stack.Deployment | None = None
        self.waits: FastWaits | None = None
        self.lambdas: LocalLambda | None = None
        self.engine: Any = None
        self.fleet: Any = None
        self.server_url: str | None = None
        self._mock: Any = None
        self._saved_env: dict[str, str] | None = None
        self._undo: list[Any] = []
        self._sessions: dict[str, boto3.Session] = {}
        self._sessions_lock = threading.Lock()
        self._tables: dict[str, str] = {}
        self._syncs: dict[str, str] = {}
        self._sync_primary: dict[str, str] = {}
        self._sync_has_name: set[str] = set()
        self._map_run_events: dict[str, Any] = {}  # map run ARN -> moto EventManager of its children

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Sandbox:
        with Sandbox._active_lock:
            if Sandbox._active is not None:
                raise SandboxError("another Sandbox is open in this process; close it first (moto state is global)")
            Sandbox._active = self
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        from moto import mock_aws

        self._saved_env = dict(os.environ)
        self._isolate_environment()
        if self.fleet_source is not None:  # a bad fleet fails before anything is deployed
            source = self.fleet_source
            self.fleet = self._import("sandbox.fleet", "load_fleet")(
                resolve_path(source) if isinstance(source, (str, Path)) else source
            )
        translated = stack.translate(
            self.template, self.parameters, stack_name=self.stack_name, account=self.account, region=self.region
        )
        namespace = _globals_env(translated).get("POWERTOOLS_METRICS_NAMESPACE")
        if isinstance(namespace, str):
            os.environ["POWERTOOLS_METRICS_NAMESPACE"] = namespace
        self.waits = FastWaits(self.wait_scale)
        self.waits.__enter__()
        self._undo.append(lambda: self.waits and self.waits.__exit__(None, None, None))

        # The simulator adds its URL patterns to moto's: register it before mock_aws starts.
        self.engine = self._import("sandbox.drs", "register_with_moto")()
        self._mock = mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "core": {"mock_credentials": False}}
        )
        self._mock.start()
        self._undo.append(self._mock.stop)
        self.engine.reset()
        self._undo.append(self._import("sandbox.moto_patches", "install_sts_external_id_check")())

        self._undo.append(_speed_up_moto())
        self._undo.append(_capture_map_run_events(self._map_run_events))
        self._undo.append(_quiet_interpreter_log())
        self.deployment = stack.deploy(translated, lambda service: self.client(service))
        self._index_names()
        self._start_lambdas()
        os.environ.update(self.deployment.environment)
        if self.fleet_source is not None:
            self._apply_fleet()

    def close(self) -> None:
        """Stop everything started by entering, restore os.environ. Safe to call twice."""
        while self._undo:
            undo = self._undo.pop()
            try:
                undo()
            except Exception:  # keep undoing: the environment must come back
                log.exception("sandbox cleanup step failed")
        if self._saved_env is not None:
            os.environ.clear()
            os.environ.update(self._saved_env)
            self._saved_env = None
        self._sessions.clear()
        with Sandbox._active_lock:
            if Sandbox._active is self:
                Sandbox._active = None

    def _isolate_environment(self) -> None:
        for key in list(os.environ):
            if key.startswith("AWS_") or key.startswith("MOTO_"):
                del os.environ[key]
        fake = "testing"  # moto takes any credentials; these never reach AWS
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": fake,
                "AWS_SECRET_ACCESS_KEY": fake,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "POWERTOOLS_TRACE_DISABLED": "1",
            }
        )

    def _start_lambdas(self) -> None:
        assert self.deployment is not None
        layers = self.deployment.of_type("AWS::Lambda::LayerVersion")
        layer_dirs = [r.local_path for r in layers.values() if r.local_path is not None]
        runtime = LocalLambda(layer_dirs)
        for lid, res in self.deployment.of_type("AWS::Lambda::Function").items():
            a = res.attributes
            runtime.register(
                LocalFunction(
                    name=res.physical_id,
                    handler=a["Handler"],
                    code_dir=res.local_path,
                    inline_code=a.get("InlineCode"),
                    logical_id=lid,
                    arn=a["Arn"],
                    timeout=a["Timeout"],
                    memory=a["MemorySize"],
                    region=self.region,
                )
            )
        runtime.install()
        self.lambdas = runtime
        self._undo.append(runtime.uninstall)

    def _apply_fleet(self) -> None:
        apply_fleet = self._import("sandbox.fleet", "apply_fleet")
        accounts = self._tables.get("accounts")
        apply_fleet(
            self.fleet,
            self.engine,
            accounts_table=accounts,
            role_name=self.cross_account_role_name,
            stack_account=self.account,
            stack_region=self.region,
        )

    @staticmethod
    def _import(module: str, attr: str | None = None) -> Any:
        import importlib

        mod = importlib.import_module(module)
        return getattr(mod, attr) if attr else mod

    # ------------------------------------------------------------------ names
    def _index_names(self) -> None:
        """Short names of tables and syncs, derived from the template (see docs/design.md)."""
        assert self.deployment is not None
        tables = self.deployment.of_type("AWS::DynamoDB::Table")
        names: dict[str, set[str]] = {}

        def add(alias: str, lid: str) -> None:
            names.setdefault(alias, set()).add(lid)

        for var, value in _globals_env(self.deployment.translated).items():
            if isinstance(value, dict) and value.get("Ref") in tables and var.endswith("_TABLE"):
                add(var.removesuffix("_TABLE").lower().replace("_", "-"), value["Ref"])
        for lid in tables:
            base = lid.removesuffix("Table") or lid
            add(_kebab(base), lid)
            add(_kebab(base.removesuffix("Cache")), lid)
            add(lid, lid)
        self._tables = {alias: tables[next(iter(lids))].physical_id for alias, lids in names.items() if len(lids) == 1}

        machines = self.deployment.of_type("AWS::StepFunctions::StateMachine")
        syncs: dict[str, set[str]] = {}
        primary: dict[str, str] = {}
        declared = self.deployment.translated.cfn["Resources"]
        for lid, res in machines.items():
            subs = res.attributes.get("DefinitionSubstitutions") or {}
            short = subs.get("SyncName")
            name = str(res.attributes["Name"])
            from_name = name.removeprefix(f"{self.stack_name}-").removesuffix("-sync")
            from_lid = _kebab(lid.removesuffix("StateMachine").removesuffix("Sync")) or lid.lower()
            named = "StateMachineName" in (declared[lid].get("Properties") or {})
            primary[lid] = str(short) if short else (from_name if named else from_lid)
            for alias in {primary[lid], from_name, from_lid, lid, name}:
                syncs.setdefault(alias, set()).add(lid)
        self._syncs = {alias: machines[next(iter(lids))].physical_id for alias, lids in syncs.items() if len(lids) == 1}
        self._sync_primary = {primary[lid]: res.physical_id for lid, res in machines.items()}
        self._sync_has_name = {
            primary[lid]
            for lid, res in machines.items()
            if (res.attributes.get("DefinitionSubstitutions") or {}).get("SyncName")
        }

    def _require(self) -> stack.Deployment:
        if self.deployment is None:
            raise SandboxError("the sandbox is not open: use it as `with Sandbox(...) as sb:`")
        return self.deployment

    @property
    def syncs(self) -> list[str]:
        """Short names of the template's sync state machines (those declaring a SyncName), demo order first."""
        self._require()
        return sorted(self._sync_has_name, key=lambda s: (SYNC_ORDER.index(s) if s in SYNC_ORDER else 99, s))

    @property
    def state_machines(self) -> dict[str, str]:
        """Every state machine of the template: short name -> ARN."""
        self._require()
        return dict(self._sync_primary)

    @property
    def tables(self) -> dict[str, str]:
        """Product tables: short name -> physical name (the primary names only)."""
        d = self._require()
        out = {}
        for alias, name in sorted(self._tables.items()):
            if alias not in d.resources and name not in out.values():
                out[alias] = name
        return out

    def state_machine_arn(self, sync: str) -> str:
        self._require()
        try:
            return self._syncs[sync]
        except KeyError:
            known = ", ".join(sorted(self._sync_primary)) or "none"
            raise SandboxError(f"unknown sync {sync!r}; this template defines: {known}") from None

    def sync_name(self, sync_or_arn: str) -> str:
        """The short name of a sync given any of its names or its ARN."""
        arn = sync_or_arn if sync_or_arn.startswith("arn:") else self.state_machine_arn(sync_or_arn)
        for short, machine in self._sync_primary.items():
            if machine == arn:
                return short
        raise SandboxError(f"no state machine {sync_or_arn!r} in this stack")

    def table_name(self, table: str) -> str:
        self._require()
        try:
            return self._tables[table]
        except KeyError:
            known = ", ".join(self.tables) or "none"
            raise SandboxError(f"unknown table {table!r}; this template defines: {known}") from None

    def function_name(self, logical_id: str) -> str:
        res = self._require().resources.get(logical_id)
        if res is None or res.type != "AWS::Lambda::Function":
            raise SandboxError(f"the template has no function {logical_id!r}")
        return res.physical_id

    def physical_id(self, logical_id: str) -> str:
        return self._require().physical_id(logical_id)

    @property
    def cross_account_role_name(self) -> str:
        d = self._require()
        return str(
            d.translated.parameters.get("CrossAccountRoleName")
            or d.environment.get("CROSS_ACCOUNT_ROLE_NAME")
            or DEFAULT_ROLE_NAME
        )

    @property
    def notes(self) -> list[str]:
        """What the deployer skipped or could not apply."""
        return list(self._require().notes)

    # ------------------------------------------------------------------ clients
    def client(self, service: str, account: str | None = None, region: str | None = None) -> Any:
        """A boto3 client acting as `account` (default: the stack's account) in `region`."""
        if self._mock is None:
            raise SandboxError("the sandbox is not open")
        account = account or self.account
        with self._sessions_lock:  # boto3 sessions are not thread-safe; the clients they make are
            if account not in self._sessions:
                key, secret = ("testing", "testing") if account == self.account else _account_keys(account)
                self._sessions[account] = boto3.Session(
                    aws_access_key_id=key, aws_secret_access_key=secret, region_name=self.region
                )
            return self._sessions[account].client(service, region_name=region or self.region)

    # ------------------------------------------------------------------ running
    def start_sync(self, sync: str, input: Any = None, *, name: str | None = None) -> str:
        """StartExecution (always named: moto leaves $$.Execution.Name null otherwise); returns the ARN."""
        arn = self.state_machine_arn(sync)
        short = self.sync_name(arn)
        if isinstance(input, str):
            input = json.loads(input)
        name = name or f"{short}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        sfn = self.client("stepfunctions")
        return sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({} if input is None else input))[
            "executionArn"
        ]

    def wait(self, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll DescribeExecution until the execution finishes; returns the description."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            desc = sfn.describe_execution(executionArn=execution_arn)
            if desc["status"] in _TERMINAL:
                desc.pop("ResponseMetadata", None)
                return desc
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still {desc['status']} after {timeout:.0f}s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    def run_sync(self, sync: str, input: Any = None, *, name: str | None = None, timeout: float = 120.0) -> dict:
        """Start, wait, and return the summary: the execution output plus `status` and `executionArn`;
        for a failed execution `{sync, status, executionArn, error, cause}`."""
        arn = self.start_sync(sync, input, name=name)
        desc = self.wait(arn, timeout)
        return summary_of(self.sync_name(sync), desc)

    def history(self, execution_arn: str, include_children: bool = False) -> list[dict[str, Any]]:
        """Every event of an execution (all pages), as GetExecutionHistory returns them.

        With include_children, the events of the items its Distributed Maps ran follow the execution's
        own, each tagged with `mapRunArn`. moto runs a map run's child workflows in one event stream
        (ids restart at 1 per map run, `previousEventId` links each item's chain) and does not serve it
        through the API, so the sandbox captures it."""
        sfn = self.client("stepfunctions")
        events = list(_history_pages(sfn, execution_arn))
        if include_children:
            for run in sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", []):
                events += self.map_run_history(run["mapRunArn"])
        return events

    def map_run_history(self, map_run_arn: str) -> list[dict[str, Any]]:
        """The events of one Distributed Map run's child workflows (see `history`)."""
        manager = self._map_run_events.get(map_run_arn)
        if manager is None:
            return []
        out = []
        for event in manager.get_event_history():
            event = dict(event)
            event["type"] = str(getattr(event["type"], "value", event["type"]))
            if isinstance(event.get("timestamp"), str):
                event["timestamp"] = dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
            event["mapRunArn"] = map_run_arn
            out.append(event)
        return out

    # ------------------------------------------------------------------ data
    def items(self, table: str) -> list[dict[str, Any]]:
        """Every item of a table (all pages), as plain JSON types."""
        from boto3.dynamodb.types import TypeDeserializer

        name = self.table_name(table)
        ddb = self.client("dynamodb")
        des = TypeDeserializer()
        out = []
        for page in ddb.get_paginator("scan").paginate(TableName=name):
            out += [plain({k: des.deserialize(v) for k, v in item.items()}) for item in page["Items"]]
        return out

    # ------------------------------------------------------------------ DRS simulator
    def _engine(self) -> Any:
        if self.engine is None:
            raise SandboxError("the sandbox is not open")
        return self.engine

    def drs_calls(self) -> Any:
        return self._engine().counters_snapshot()

    def reset_drs_calls(self) -> None:
        self._engine().reset_counters()

    def set_faults(self, faults: list[dict[str, Any]]) -> None:
        self._engine().set_faults(list(faults))

    def add_source_servers(self, account: str, region: str, count: int, **kwargs: Any) -> list[str]:
        add = self._import("sandbox.fleet", "add_source_servers")
        kwargs.setdefault("stack_account", self.account)
        return add(self._engine(), account, region, count, **kwargs)

    # ------------------------------------------------------------------ API Gateway
    def api(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> tuple[int, Any]:
        """Send an API Gateway REST proxy event for `method path` to the function the template's Api events
        route it to, in process; returns (status, body as JSON when it is). See sandbox/api.py."""
        from .api import ApiGateway

        gateway = self.__dict__.get("_api_gateway")
        if gateway is None or gateway.sb is not self or gateway.sam is not self._require().translated.sam:
            gateway = self.__dict__["_api_gateway"] = ApiGateway(self)
        return gateway.request(method, path, query, body, headers=headers, signed=signed)

    # ------------------------------------------------------------------ HTTP
    def serve(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Expose this sandbox over HTTP (moto server on the same backends); returns the endpoint URL.
        Requests to it reach every service, DRS included; executions run in this process."""
        from moto.server import ThreadedMotoServer

        if self.server_url:
            return self.server_url
        self._require()
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        self._undo.append(server.stop)
        bound = server._server.server_port if port == 0 else port  # moto exposes no public accessor
        self.server_url = f"http://{host}:{bound}"
        return self.server_url


def _globals_env(translated: stack.Translated) -> dict[str, Any]:
    """Globals.Function.Environment.Variables of the SAM template, as written."""
    function = (translated.sam.get("Globals") or {}).get("Function") or {}
    return (function.get("Environment") or {}).get("Variables") or {}


def summary_of(sync: str, desc: dict[str, Any]) -> dict[str, Any]:
    """The summary dict `run_sync` returns, from a DescribeExecution result."""
    status = desc["status"]
    arn = desc["executionArn"]
    if status != "SUCCEEDED":
        return {
            "sync": sync,
            "status": status,
            "executionArn": arn,
            "error": desc.get("error") or status,
            "cause": desc.get("cause") or "",
        }
    output = json.loads(desc.get("output") or "null")
    summary = output if isinstance(output, dict) else {"output": output}
    summary.setdefault("sync", sync)
    summary["status"] = status
    summary["executionArn"] = arn
    return summary


def _history_pages(sfn: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        kw = {"nextToken": token} if token else {}
        page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000, **kw)
        yield from page["events"]
        token = page.get("nextToken")
        if not token:
            return


def _capture_map_run_events(registry: dict[str, Any]) -> Any:
    """moto 5.2.5 gives each Distributed Map run a fresh EventManager and drops it afterwards; keep it
    (keyed by map run ARN) so `Sandbox.history(include_children=True)` can show what the items did."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as dic,
    )

    cls = dic.DistributedIterationComponent
    original = cls._map_run

    def _map_run(self_: Any, env: Any, eval_input: Any) -> Any:
        registry[eval_input.map_run_record.map_run_arn] = env.event_manager
        return original(self_, env, eval_input)

    cls._map_run = _map_run

    def undo() -> None:
        cls._map_run = original
        registry.clear()

    return undo


def _speed_up_moto() -> Any:
    """Two moto 5.2.5 hot spots that make fan-out runs CPU-bound, fixed without changing behaviour:
    * every backend lookup takes a global lock and scans a list of ~150 BackendDicts with a Python
      __eq__; once an account's backend exists (the common case) a dict lookup answers;
    * UpdateExpression validators re-check every sub-expression (192 of 296 nodes for a 46-action SET),
      O(n^2); the root's check covers its sub-expressions, so only the root is checked. A product
      update_item of ~45 attributes drops from ~30 ms to ~18 ms."""
    from moto.core.base_backend import BackendDict
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import UpdateExpression

    undo: list[Any] = []
    create = BackendDict._create_account_specific_backend

    def _create_account_specific_backend(self_: Any, account_id: str) -> None:
        if dict.__contains__(self_, account_id):  # reset() clears the dict and the registry together
            return
        create(self_, account_id)

    BackendDict._create_account_specific_backend = _create_account_specific_backend
    undo.append(lambda: setattr(BackendDict, "_create_account_specific_backend", create))

    def root_only(cls: Any, check: str) -> None:
        original = cls.traverse

        def traverse(self_: Any, node: Any) -> Any:
            if isinstance(node, UpdateExpression):
                getattr(self_, check)(node)
                return node
            return original(self_, node)

        cls.traverse = traverse
        undo.append(lambda: setattr(cls, "traverse", original))

    root_only(validators.OverlappingPathsValidator, "check_for_overlapping_paths")
    root_only(validators.ActionCountValidator, "verify_action_counts")

    def undo_all() -> None:
        while undo:
            undo.pop()()

    return undo_all


def _quiet_interpreter_log() -> Any:
    """moto's interpreter logs every error a state raises at ERROR, including the ones Retry and Catch
    handle; they are control flow here, so keep them out of the output unless someone asked for them."""
    logger = logging.getLogger("moto.stepfunctions.parser")
    if logger.level != logging.NOTSET:
        return lambda: None
    logger.setLevel(logging.CRITICAL)
    return lambda: logger.setLevel(logging.NOTSET)


def _account_keys(account: str) -> tuple[str, str]:
    """Static keys of an IAM user in `account`: moto maps requests signed with them to that account."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["aws"]
    user = "sandbox-operator"
    if user not in backend.users:
        backend.create_user(STACK_REGION, user)
    key = backend.create_access_key(user)
    return key.access_key_id, key.secret_access_key
