"""`sandbox run SYNC --endpoint URL`: one sync on a `sandbox serve` that is already running.

The run starts on that server's state machines through its Step Functions API, with the keys serve prints,
and is waited for in real time; so a second inventory run against one serve is the filtered run, where a
fresh sandbox's first run is always the all-regions one. The summary is the one `sandbox run` prints.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

from .cli_checks import UsageError
from .executions import summary_of
from .stack import DEFAULT_REGION, DEFAULT_STACK_NAME

SANDBOX_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # nosec B105  # moto's dummy keys: they never reach AWS
POLL_SECONDS = 0.2


def _client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=60)
    return boto3.client(
        "stepfunctions", endpoint_url=endpoint, region_name=DEFAULT_REGION, config=config, **SANDBOX_KEYS
    )


def _machine(sfn: Any, endpoint: str, sync: str) -> str:
    """The ARN of the sync's state machine on the server (named as the sandbox deploys it)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        machines = [m for page in sfn.get_paginator("list_state_machines").paginate() for m in page["stateMachines"]]
    except (BotoCoreError, ClientError) as exc:
        raise UsageError(
            f"--endpoint {endpoint}: no sandbox answers there ({exc}); start one with `sandbox serve`"
        ) from None
    wanted = {f"{DEFAULT_STACK_NAME}-{sync}-sync", f"{DEFAULT_STACK_NAME}-{sync}", sync}
    found = [m["stateMachineArn"] for m in machines if m["name"] in wanted]
    if not found:
        names = ", ".join(sorted(m["name"] for m in machines)) or "none"
        raise UsageError(f"--endpoint {endpoint} has no state machine for the sync {sync!r}; it has: {names}")
    return str(found[0])


def run_on_endpoint(endpoint: str, sync: str, payload: Any, timeout: float) -> dict[str, Any]:
    """Start the sync on the server and wait up to `timeout` real seconds; its summary. On timeout the
    execution is stopped and TimeoutError names it."""
    sfn = _client(endpoint.rstrip("/"))
    arn = _machine(sfn, endpoint, sync)
    name = f"{sync}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    execution = sfn.start_execution(
        stateMachineArn=arn, name=name, input=json.dumps({} if payload is None else payload)
    )["executionArn"]
    deadline = time.monotonic() + timeout
    while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=execution, cause=f"--timeout {timeout:g} s")
            raise TimeoutError(execution)
        time.sleep(POLL_SECONDS)
    return summary_of(sync, desc)
