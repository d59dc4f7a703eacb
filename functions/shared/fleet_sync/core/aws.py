"""AWS clients: retry configuration, cross-account credentials and clients cached per warm container, API-call
counting.

A warm container pays once for what does not change between work items: credentials per (role, ExternalId)
until shortly before they expire, a client per (service, region, credentials), the DynamoDB resource and its
Table objects. Calls are counted by a botocore event hook that adds to the counter of whoever is calling, so
a cached client serves many work items and each item still counts its own calls.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
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
        """Count every request `client` sends from now on (a client of one's own, not the container's)."""
        client.meta.events.register("request-created", self._on_request)
        return client

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._calls.items()))

    def total(self) -> int:
        with self._lock:
            return sum(self._calls.values())


_counting: contextvars.ContextVar[ApiCallCounter | None] = contextvars.ContextVar("counting", default=None)


def _count_request(**kwargs: Any) -> None:
    """The one hook on every client: the request goes to the counter of the call that sent it, if any."""
    counter = _counting.get()
    if counter is not None:
        counter._on_request(**kwargs)


class _Counted:
    """A shared client seen through one counter; paginators it hands out count through it as well."""

    def __init__(self, client: Any, counter: ApiCallCounter) -> None:
        self._client, self._counter = client, counter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name in ("meta", "exceptions") or not callable(attr):
            return attr
        return self._through_counter(attr, paginates=name == "get_paginator")

    def _through_counter(self, fn: Callable[..., Any], *, paginates: bool = False) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            token = _counting.set(self._counter)
            try:
                made = fn(*args, **kwargs)
            finally:
                _counting.reset(token)
            if paginates:
                made._method = self._through_counter(made._method)
            return made

        return call


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials of one assumed role: what the clients in its account are made with."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float | None = field(default=None, compare=False)  # time.time() seconds


_shared: boto3.Session | None = None
_shared_lock = threading.Lock()
_warmed: set[str] = set()
# Credentials are used until REFRESH_BEFORE_EXPIRY_SECONDS before they expire: longer than a work item runs
# (the workers' timeout is at most 15 minutes), so no item holds credentials that expire under it.
REFRESH_BEFORE_EXPIRY_SECONDS = 15 * 60
MAX_CACHED_CLIENTS = 256  # (service, region, credentials): a container working through many accounts stays small
# (role ARN, ExternalId, session name, session tags)
CredentialsKey = tuple[str, str | None, str, tuple[tuple[str, str], ...]]
_credentials: dict[CredentialsKey, Credentials] = {}
_clients: OrderedDict[tuple[str, str | None, Credentials | None], Any] = OrderedDict()
_cache_lock = threading.Lock()
_assuming: dict[CredentialsKey, threading.Lock] = {}
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
    """The container's client for (service, region, credentials), made once from the container's one boto3
    session (a client costs 5 to 40 ms to make; a new boto3.Session re-reads the service models from disk),
    seen through `counter` when one is given."""
    key = (service, region, credentials)
    with _cache_lock:
        made = _clients.get(key)
        if made is not None:
            _clients.move_to_end(key)
    if made is None:
        made = _new_client(service, region, _credential_kwargs(credentials))
        made.meta.events.register("request-created", _count_request)
        with _cache_lock:
            made = _clients.setdefault(key, made)
            while len(_clients) > MAX_CACHED_CLIENTS:
                _clients.popitem(last=False)
    return _Counted(made, counter) if counter else made


def _credential_kwargs(credentials: Credentials | None) -> dict[str, str]:
    if credentials is None:
        return {}
    return {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": credentials.secret_access_key,
        "aws_session_token": credentials.session_token,
    }


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


class _Lease:
    """A DynamoDB resource lent to one thread, and its Table objects; back to the pool when the thread ends."""

    def __init__(self, resource: Any) -> None:
        self.resource = resource
        self.tables: dict[str, Any] = {}

    def __del__(self) -> None:
        _free_resources.append(self)


_free_resources: list[_Lease] = []


def _lease() -> _Lease:
    lease: _Lease | None = getattr(_own, "lease", None)
    if lease is None:
        try:
            lease = _free_resources.pop()
        except IndexError:
            with _shared_lock:
                lease = _Lease(_session().resource("dynamodb", config=AWS_CONFIG))
        _own.lease = lease
    return lease


def partition(region: str | None = None) -> str:
    """The partition ARNs are written in (aws, aws-cn, aws-us-gov, ...): the region's, by default the
    function's own region (Lambda sets AWS_REGION). Never assume `aws`."""
    name = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    with _shared_lock:
        return str(_session().get_partition_for_region(name))


def dynamodb() -> Any:
    """The container's DynamoDB resource (the function's own role). boto3 resources are not thread-safe: each
    thread has one of its own, taken from those threads that ended left behind."""
    return _lease().resource


def table(name: str) -> Any:
    """A Table of the container's DynamoDB resource, made once per resource (about 1 ms each)."""
    lease = _lease()
    made = lease.tables.get(name)
    if made is None:
        made = lease.tables[name] = lease.resource.Table(name)
    return made


def assume_role(
    role_arn: str,
    *,
    session_name: str,
    external_id: str | None = None,
    tags: dict[str, str] | None = None,
    counter: ApiCallCounter | None = None,
) -> Credentials:
    """Credentials of `role_arn` (`session_name` is STS's RoleSessionName; `tags` its session tags, which
    CloudTrail records in the role's account): one AssumeRole per role, ExternalId, session name and tags per
    container (the tags name the run, so each run assumes afresh), and again only within
    REFRESH_BEFORE_EXPIRY_SECONDS of their expiry. A refused AssumeRole is not remembered: the next work item
    asks again."""
    session_tags = tuple(sorted((tags or {}).items()))
    key: CredentialsKey = (role_arn, external_id, session_name, session_tags)
    with _cache_lock:
        assuming = _assuming.setdefault(key, threading.Lock())
    with assuming:  # concurrent items in one account wait for one AssumeRole rather than each making one
        with _cache_lock:
            cached = _credentials.get(key)
        if cached is not None and (cached.expires_at or 0) - time.time() > REFRESH_BEFORE_EXPIRY_SECONDS:
            return cached
        made = _assume(role_arn, session_name, external_id, session_tags, counter)
        with _cache_lock:
            _credentials[key] = made
        return made


def _assume(
    role_arn: str,
    session_name: str,
    external_id: str | None,
    tags: tuple[tuple[str, str], ...],
    counter: ApiCallCounter | None,
) -> Credentials:
    sts = client("sts", counter=counter)
    kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name[:64], "DurationSeconds": 3600}
    if external_id:
        kwargs["ExternalId"] = external_id
    if tags:
        kwargs["Tags"] = [{"Key": k, "Value": v[:256]} for k, v in tags]
    creds = sts.assume_role(**kwargs)["Credentials"]
    expiry = creds["Expiration"]
    return Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], expiry.timestamp())


def forget_credentials() -> None:
    """Drop every cached credential and client (a role or its trust changed, or a test starts afresh)."""
    with _cache_lock:
        _credentials.clear()
        _clients.clear()


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
