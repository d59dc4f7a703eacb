"""AWS clients: retry configuration, one cross-account session per work item, API-call counting."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
from botocore.config import Config

# DRS publishes no per-operation rate limits; throttling is expected under fan-out. Standard retries
# honour Retry-After and back off with jitter; whatever survives them is retried by the state machine.
DRS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=30)
AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


class ApiCallCounter:
    """Counts the requests our clients send, by operation (retries included, as the service sees them)."""

    def __init__(self) -> None:
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _on_request(self, request: Any = None, operation_name: str | None = None, **_: Any) -> None:
        if operation_name:
            with self._lock:
                self._calls[operation_name] += 1

    def attach(self, client: Any) -> Any:
        client.meta.events.register("request-created", self._on_request)
        return client

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._calls.items()))

    def total(self) -> int:
        with self._lock:
            return sum(self._calls.values())


def client(
    service: str,
    *,
    session: boto3.Session | None = None,
    region: str | None = None,
    counter: ApiCallCounter | None = None,
) -> Any:
    session = session or boto3.Session()
    config = DRS_CONFIG if service == "drs" else AWS_CONFIG
    c = session.client(service, region_name=region, config=config)
    return counter.attach(c) if counter else c


def assume_role_session(
    role_arn: str,
    *,
    session_name: str,
    external_id: str | None = None,
    counter: ApiCallCounter | None = None,
) -> boto3.Session:
    """One AssumeRole; the returned session serves every client of one work item."""
    sts = client("sts", counter=counter)
    kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name[:64], "DurationSeconds": 3600}
    if external_id:
        kwargs["ExternalId"] = external_id
    creds = sts.assume_role(**kwargs)["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else the exception's class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def error_message(exc: BaseException, limit: int = 500) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        msg = response.get("Error", {}).get("Message") or response.get("message")
        if msg:
            return str(msg)[:limit]
    return str(exc)[:limit]
