"""What a sandbox sets up in this process: a dummy AWS environment, the handlers, keys per account."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import boto3

from . import lambda_logs
from .clock import SandboxClock
from .local_lambda import LocalFunction, LocalLambda
from .stack import Deployment


def isolate_aws_environment(region: str) -> None:
    """Drop every AWS_*/MOTO_* variable and set dummy credentials: no real profile or endpoint leaks in;
    moto's public AMIs are not loaded."""
    for key in list(os.environ):
        if key.startswith("AWS_") or key.startswith("MOTO_"):
            del os.environ[key]
    fake = "testing"  # moto takes any credentials; these never reach AWS
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": fake,
            "AWS_SECRET_ACCESS_KEY": fake,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "POWERTOOLS_TRACE_DISABLED": "1",
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",  # nothing reads them (moto_speedups.speed_up_moto)
        }
    )


def start_clock(clock: SandboxClock, waits: Any) -> list[Any]:
    """Start `clock`, make it the simulator's and every wait's (`waits`, a ClockWaits), keep each
    invocation's log lines apart; returns the undo steps, in order."""
    from .drs import clock as drs_clock

    undo: list[Any] = [clock.stop]
    clock.start()
    previous = drs_clock.install(clock)
    undo.append(lambda: drs_clock.install(previous))
    waits.__enter__()
    undo.append(lambda: waits.__exit__(None, None, None))
    undo.append(lambda_logs.install())
    return undo


def start_local_lambdas(deployment: Deployment, region: str, account: str, clock: SandboxClock) -> LocalLambda:
    """Every function of the deployment, running its repository code in-process on `clock` (installed;
    uninstall it)."""
    layers = deployment.of_type("AWS::Lambda::LayerVersion")
    runtime = LocalLambda(
        [r.local_path for r in layers.values() if r.local_path is not None], clock=clock, account=account
    )
    for lid, res in deployment.of_type("AWS::Lambda::Function").items():
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
                region=region,
            )
        )
    runtime.install()
    return runtime


class Clients:
    """A sandbox's boto3 clients, one per (account, service, region) for its life: boto3 clients are
    thread-safe and cost 5 to 40 ms to make; the sessions that make them are not thread-safe."""

    def __init__(self, stack_account: str, region: str) -> None:
        self.stack_account, self.region = stack_account, region
        self._sessions: dict[str, boto3.Session] = {}
        self._made: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, service: str, account: str, region: str) -> Any:
        with self._lock:
            made = self._made.get((account, service, region))
            if made is None:
                made = self._made[(account, service, region)] = self._session(account).client(
                    service, region_name=region
                )
            return made

    def _session(self, account: str) -> boto3.Session:
        if account not in self._sessions:
            key, secret = (
                ("testing", "testing") if account == self.stack_account else account_keys(account, self.region)
            )
            self._sessions[account] = boto3.Session(
                aws_access_key_id=key, aws_secret_access_key=secret, region_name=self.region
            )
        return self._sessions[account]

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._made.clear()


def account_keys(account: str, region: str) -> tuple[str, str]:
    """Static keys of an IAM user in `account`: moto maps requests signed with them to that account."""
    from moto.iam.models import iam_backends  # moto is started by then

    backend = iam_backends[account]["aws"]
    user = "sandbox-operator"
    if user not in backend.users:
        backend.create_user(region, user)
    keys = backend.users[user].access_keys  # IAM allows two keys per user: reuse the first
    key = keys[0] if keys else backend.create_access_key(user)
    return key.access_key_id, key.secret_access_key


def own_keys_as_operator(account: str, region: str, key_id: str) -> None:
    """Make the sandbox's own keys (`key_id` for id and secret) those of the `sandbox-operator` IAM user of
    `account`, so the API's SigV4 check (sandbox.sigv4) finds whose they are in moto's IAM."""
    from moto.iam.models import iam_backends  # moto is started by then

    backend = iam_backends[account]["aws"]
    user = "sandbox-operator"
    if user not in backend.users:
        backend.create_user(region, user)
    if not any(k.access_key_id == key_id for k in backend.users[user].access_keys):
        key = backend.create_access_key(user)
        key.access_key_id = key.secret_access_key = key_id


def forget_layer_credentials() -> None:
    """A new sandbox is a new AWS: credentials and clients the caller's own copy of the layer cached
    (code calling the layer directly, beside the handlers' cold copies) belong to the last one."""
    layer_aws = sys.modules.get("fleet_sync.core.aws")
    if layer_aws is not None:
        layer_aws.forget_credentials()
