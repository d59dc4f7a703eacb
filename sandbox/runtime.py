"""What a sandbox sets up in this process: a dummy AWS environment, the handlers, keys per account."""

from __future__ import annotations

import os
import sys
from typing import Any

from . import lambda_logs
from .clock import SandboxClock
from .local_lambda import LocalFunction, LocalLambda
from .stack import Deployment


def isolate_aws_environment(region: str) -> None:
    """Drop every AWS_*/MOTO_* variable and set dummy credentials: no real profile or endpoint leaks in."""
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


def forget_layer_credentials() -> None:
    """A new sandbox is a new AWS: credentials and clients the caller's own copy of the layer cached
    (code calling the layer directly, beside the handlers' cold copies) belong to the last one."""
    layer_aws = sys.modules.get("fleet_sync.core.aws")
    if layer_aws is not None:
        layer_aws.forget_credentials()
