"""`Sandbox`: the real template deployed into moto, the real state machines running the real handlers.

    with Sandbox(fleet="events/fleets/demo.yaml") as sb:
        summary = sb.run_sync("inventory")
        rows = sb.items("inventory")

Entering sets a dummy AWS environment (no real profile or endpoint leaks in), starts moto with executing Step
Functions, registers the DRS simulator, deploys the template (`sandbox.stack`), plugs the handlers in
(`sandbox.local_lambda`), puts every wait and read of time on one clock (`sandbox.clock`, `.waits`, `.timing`),
sends log lines to CloudWatch Logs (`sandbox.lambda_logs`), seeds the fleet and delivers its DRS events
(`sandbox.eventbridge`). Leaving waits for running executions (bounded), stops the rest and undoes it all.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from . import executions, stack
from .clock import SandboxClock, make_clock
from .local_lambda import LocalLambda
from .moto_speedups import quiet_interpreter_log, share_botocore_loaders, speed_up_moto
from .names import StackNames, UnknownName, globals_environment
from .runtime import Clients, forget_layer_credentials, isolate_aws_environment, start_clock, start_local_lambdas
from .waits import ClockWaits

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
STACK_ACCOUNT = stack.DEFAULT_ACCOUNT
STACK_REGION = stack.DEFAULT_REGION
DEFAULT_ROLE_NAME = "DrsFleetSyncRole"


class SandboxError(RuntimeError):
    """Misuse of the sandbox or a name it does not know (unknown sync, table, function)."""


def resolve_path(path: str | Path) -> Path:
    """A path as given if it exists, else relative to the project root (so the CLI works anywhere)."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p.resolve()
    candidate = PROJECT_ROOT / p
    return candidate.resolve() if candidate.exists() else p.resolve()


class Sandbox:
    """The stack of `template` in moto, with `fleet` seeded into the DRS simulator."""

    _active: Sandbox | None = None
    _active_lock = threading.Lock()

    def __init__(
        self,
        fleet: str | Path | dict[str, Any] | None = None,
        template: str | Path = "template.yaml",
        parameters: dict[str, Any] | None = None,
        *,
        clock: str | SandboxClock = "virtual",
        speed: float = 1.0,
        stack_name: str = stack.DEFAULT_STACK_NAME,
    ) -> None:
        self.fleet_source = fleet
        self.template = resolve_path(template)
        self.parameters = dict(parameters or {})
        self.clock = make_clock(clock, speed)
        self.stack_name = stack_name
        self.account = STACK_ACCOUNT
        self.region = STACK_REGION
        self.deployment: stack.Deployment | None = None
        self.waits: ClockWaits | None = None
        self.lambdas: LocalLambda | None = None
        self.engine: Any = None
        self.fleet: Any = None
        self.server_url: str | None = None
        self.scheduler: Any = None  # sandbox.schedules.Scheduler: the template's schedules on the clock
        self.eventbridge: Any = None  # sandbox.eventbridge.EventBridge: the fleet's DRS events on the clock
        self._mock: Any = None
        self._saved_env: dict[str, str] | None = None
        self._undo: list[Any] = []
        self._clients = Clients(self.account, STACK_REGION)
        self._names: StackNames | None = None
        self._threads_before: set[int | None] = set()

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
        self._threads_before = {t.ident for t in threading.enumerate()}
        isolate_aws_environment(self.region)
        if self.fleet_source is not None:  # a bad fleet fails before anything is deployed
            source = self.fleet_source
            self.fleet = self._import("sandbox.fleet", "load_fleet")(
                resolve_path(source) if isinstance(source, (str, Path)) else source
            )
        translated = stack.translate(
            self.template, self.parameters, stack_name=self.stack_name, account=self.account, region=self.region
        )
        namespace = globals_environment(translated.sam).get("POWERTOOLS_METRICS_NAMESPACE")
        if isinstance(namespace, str):
            os.environ["POWERTOOLS_METRICS_NAMESPACE"] = namespace
        self._start_clock()

        # The simulator adds its URL patterns to moto's: register it before mock_aws starts.
        self.engine = self._import("sandbox.drs", "register_with_moto")()
        self._mock = mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "core": {"mock_credentials": False}}
        )
        self._mock.start()
        self._undo.append(self._mock.stop)
        forget_layer_credentials()
        self._undo.append(forget_layer_credentials)
        self.engine.reset()
        self._undo += self._import("sandbox.moto_patches", "install_moto_patches")(
            self.engine
        )  # moto answers as AWS does
        self._undo.append(speed_up_moto())
        self._undo.append(share_botocore_loaders())
        self._undo.append(quiet_interpreter_log())
        self.deployment = stack.deploy(translated, lambda service: self.client(service))
        self._names = StackNames(self.deployment)
        self.lambdas = start_local_lambdas(self.deployment, self.region, self.account, self.clock)
        self._undo.append(self.lambdas.uninstall)
        os.environ.update(self.deployment.environment)
        if self.fleet_source is not None:
            self._apply_fleet()
        self._undo.append(self._import("sandbox.schedules", "start_scheduler")(self))  # sets self.scheduler

    def close(self, timeout: float = 10.0) -> None:
        """Stop the schedules, let running executions finish (up to `timeout` real seconds, on the clock), stop
        the rest cleanly, then undo everything entering did and restore os.environ. Safe to call twice."""
        if self._mock is not None and self.lambdas is not None:
            try:
                executions.finish_executions(self, self.lambdas, timeout, self._threads_before)
            except Exception:  # closing must go on
                log.exception("could not finish the running executions")
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
        self._clients.clear()
        with Sandbox._active_lock:
            if Sandbox._active is self:
                Sandbox._active = None

    def _start_clock(self) -> None:
        self.waits = ClockWaits(self.clock)
        self._undo += start_clock(self.clock, self.waits)

    def _apply_fleet(self) -> None:
        apply_fleet = self._import("sandbox.fleet", "apply_fleet")
        accounts = self.tables.get("accounts")
        trusted = self.deployment.outputs.get("FleetRoleTrustedRoleArns") if self.deployment else None
        apply_fleet(
            self.fleet,
            self.engine,
            accounts_table=accounts,
            role_name=self.cross_account_role_name,
            stack_account=self.account,
            stack_region=self.region,
            trusted_role_arns=str(trusted).split(",") if trusted else None,  # what each fleet role trusts
        )

    @staticmethod
    def _import(module: str, attr: str | None = None) -> Any:
        import importlib

        mod = importlib.import_module(module)
        return getattr(mod, attr) if attr else mod

    # ------------------------------------------------------------------ names
    def _require(self) -> stack.Deployment:
        if self.deployment is None:
            raise SandboxError("the sandbox is not open: use it as `with Sandbox(...) as sb:`")
        return self.deployment

    def _stack_names(self) -> StackNames:
        self._require()
        assert self._names is not None
        return self._names

    @property
    def syncs(self) -> list[str]:
        """Short names of the template's syncs (state machines with a SyncName), demo order first."""
        return list(self._stack_names().syncs)

    @property
    def state_machines(self) -> dict[str, str]:
        """Every state machine of the template: short name -> ARN."""
        return dict(self._stack_names().state_machines)

    @property
    def tables(self) -> dict[str, str]:
        """Product tables: short name -> physical name."""
        return dict(self._stack_names().tables)

    def state_machine_arn(self, sync: str) -> str:
        """A sync's (or any state machine's) ARN, by short name, logical id or physical name."""
        return self._lookup(self._stack_names().state_machine_arn, sync)

    def sync_name(self, sync_or_arn: str) -> str:
        """The short name of a sync given any of its names or its ARN."""
        return self._lookup(self._stack_names().sync_name, sync_or_arn)

    def table_name(self, table: str) -> str:
        """A table's physical name, by short name or logical id."""
        return self._lookup(self._stack_names().table_name, table)

    @staticmethod
    def _lookup(find: Any, name: str) -> str:
        try:
            return str(find(name))
        except UnknownName as exc:
            raise SandboxError(str(exc)) from None

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
        """A boto3 client acting as `account` (default: the stack's account) in `region`, made once per sandbox."""
        if self._mock is None:
            raise SandboxError("the sandbox is not open")
        return self._clients.get(service, account or self.account, region or self.region)

    # ------------------------------------------------------------------ running
    def start_sync(self, sync: str, input: Any = None, *, name: str | None = None) -> str:
        """StartExecution, named `<sync>-<time>-<hex>` unless `name` is given; returns the ARN."""
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
        """Wait until the execution finishes (`timeout` in real seconds); returns its description. The wait
        is on the sandbox clock with no deadline of its own, so a virtual clock skips what the run waits for."""
        return executions.wait_for_execution(self, execution_arn, timeout)

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0) -> None:
        """Move the sandbox clock on: buckets refill, waits end, rows age, schedules fire (sandbox/schedules.py)."""
        (self.scheduler or self.clock).advance(seconds + 60 * minutes)

    def run_sync(
        self, sync: str, input: Any = None, *, name: str | None = None, timeout: float = 120.0
    ) -> dict[str, Any]:
        """Start, wait, and return the summary: the execution output plus `status` and `executionArn`;
        for a failed execution `{sync, status, executionArn, error, cause}`."""
        arn = self.start_sync(sync, input, name=name)
        desc = self.wait(arn, timeout)
        return executions.summary_of(self.sync_name(sync), desc)

    def history(self, execution_arn: str, include_children: bool = False) -> list[dict[str, Any]]:
        """Every event of an execution (all pages), as GetExecutionHistory returns them.

        With include_children, the events of the child executions its Distributed Maps ran follow the
        execution's own, each tagged with `mapRunArn` (child by child; ids restart at 1 in each)."""
        sfn = self.client("stepfunctions")
        events = list(executions.history_pages(sfn, execution_arn))
        if include_children:
            for run in sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", []):
                events += self.map_run_history(run["mapRunArn"])
        return events

    def map_run_history(self, map_run_arn: str) -> list[dict[str, Any]]:
        """The events of one Distributed Map run's child executions, oldest child first (see `history`)."""
        return executions.map_run_history(self.client("stepfunctions"), map_run_arn)

    # ------------------------------------------------------------------ logs
    def logs(self, sync_or_function: str, execution: str | None = None) -> list[dict[str, Any]]:
        """Log lines from `/aws/lambda/<function>` in CloudWatch Logs, oldest first: of one function
        (logical id or name; Lambda's START/END/REPORT lines included) or of every function's
        invocations for one sync; with `execution` (an ARN), only that execution's. A JSON line comes as
        its record, a plain one as `{"message": line}`; each also carries `function` and `timestamp` (ms)."""
        functions = {lid: r.physical_id for lid, r in self._require().of_type("AWS::Lambda::Function").items()}
        if sync_or_function in functions or sync_or_function in functions.values():
            name = functions.get(sync_or_function, sync_or_function)
            return executions.select_logs(self.account, self.region, [name], None, execution)
        sync = self.sync_name(sync_or_function)
        return executions.select_logs(self.account, self.region, sorted(set(functions.values())), sync, execution)

    # ------------------------------------------------------------------ data
    def items(self, table: str) -> list[dict[str, Any]]:
        """Every item of a table (all pages), as plain JSON types."""
        return executions.table_items(self.client("dynamodb"), self.table_name(table))

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
        from .rest_endpoint import gateway_of

        return gateway_of(self).request(method, path, query, body, headers=headers, signed=signed)

    # ------------------------------------------------------------------ HTTP
    def serve(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Expose this sandbox over HTTP (moto server on the same backends); returns the base URL.
        Requests to it reach every service, DRS included; executions run in this process. The console is
        at `<url>/console/` on the same port (sandbox/console, docs/console.md)."""
        if not self.server_url:
            self._require()
            self.server_url, stop = self._import("sandbox.console", "serve_sandbox")(self, host, port)
            self._undo.append(stop)
        return self.server_url
