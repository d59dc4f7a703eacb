"""AWS clients: retry configuration, one set of cross-account credentials per work item, API-call counting."""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials of one assumed role: what a work item's clients are made with."""

    access_key_id: str
    secret_access_key: str
    session_token: str


_shared: boto3.Session | None = None
_shared_lock = threading.Lock()
_warmed: set[str] = set()
# The function's own (credential-less) clients and DynamoDB resource live as long as the container;
# per thread, because boto3 resources are not thread-safe.
_own = threading.local()


def _session() -> boto3.Session:
    """The container's one boto3 session (call with _shared_lock held)."""
    global _shared
    if _shared is None:
        _shared = boto3.session.Session()
    return _shared


def client(
    service: str,
    *,
    credentials: Credentials | None = None,
    region: str | None = None,
    counter: ApiCallCounter | None = None,
) -> Any:
    """A client from the container's one boto3 session: service models are parsed once per container,
    not once per work item (a new boto3.Session re-reads them from disk, about a second for EC2)."""
    if credentials is None and counter is None:
        key = (service, region)
        cached: dict[tuple[str, str | None], Any] = _own.__dict__.setdefault("clients", {})
        if key not in cached:
            cached[key] = _new_client(service, region, {})
        return cached[key]
    creds = {}
    if credentials is not None:
        creds = {
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
            "aws_session_token": credentials.session_token,
        }
    made = _new_client(service, region, creds)
    return counter.attach(made) if counter else made


def _new_client(service: str, region: str | None, creds: dict[str, str]) -> Any:
    """boto3 sets a session's components up lazily and not thread-safely: the first client of a service
    is made under a lock; later ones, whose setup is done, are made concurrently."""
    config = DRS_CONFIG if service == "drs" else AWS_CONFIG
    if service in _warmed and _shared is not None:
        return _shared.client(service, region_name=region, config=config, **creds)
    with _shared_lock:
        made = _session().client(service, region_name=region, config=config, **creds)
        _warmed.add(service)
        return made


def partition(region: str | None = None) -> str:
    """The partition ARNs are written in (aws, aws-cn, aws-us-gov, ...): the region's, by default the
    function's own region (Lambda sets AWS_REGION). Never assume `aws`."""
    name = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    with _shared_lock:
        return str(_session().get_partition_for_region(name))


def dynamodb() -> Any:
    """The container's DynamoDB resource (the function's own role)."""
    if not hasattr(_own, "dynamodb"):
        with _shared_lock:
            _own.dynamodb = _session().resource("dynamodb", config=AWS_CONFIG)
    return _own.dynamodb


def assume_role(
    role_arn: str,
    *,
    session_name: str,
    external_id: str | None = None,
    tags: dict[str, str] | None = None,
    counter: ApiCallCounter | None = None,
) -> Credentials:
    """One AssumeRole (`session_name` is STS's RoleSessionName; `tags` its session tags, which CloudTrail
    records in the account of the role); its credentials serve every client of one work item."""
    sts = client("sts", counter=counter)
    kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name[:64], "DurationSeconds": 3600}
    if external_id:
        kwargs["ExternalId"] = external_id
    if tags:
        kwargs["Tags"] = [{"Key": k, "Value": v[:256]} for k, v in sorted(tags.items())]
    creds = sts.assume_role(**kwargs)["Credentials"]
    return Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


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
