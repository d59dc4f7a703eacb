"""Fault injection: latency, throttling, denials and modelled errors per account / region / operation.

A fault is a camelCase dict (fleet ``faults:`` entries and ``DrsEngine.set_faults``), validated here::

    {"accountId": "*", "region": "eu-west-1", "operation": "DescribeSourceServers", "throttleTps": 2, "burst": 2}

``"service": "ec2" | "sts"`` (default ``drs``) makes a fault answer moto's EC2 or STS calls instead, with
those services' codes (:mod:`sandbox.drs.service_faults`, :mod:`sandbox.moto_patches.service_faults`).

Every matching fault applies to a call. Effects, in the order AWS would produce them:

1. ``latencyMs``      sleep before answering (the largest matching value; added to the fleet-wide latency)
2. ``notEnabled``     403 ``UnrecognizedClientException`` (opt-in region not enabled for the account)
3. ``accessDenied``   403 ``AccessDeniedException`` (IAM denial; every operation, modelled or not)
4. ``throttleTps``    token bucket of ``throttleTps`` calls/s and ``burst`` tokens; an empty bucket answers
                      429 ``ThrottlingException`` with ``Retry-After`` (botocore: ``retryAfterSeconds``)
5. ``uninitialized``  400 ``UninitializedAccountException`` (only operations whose model lists it)
6. ``error`` / ``errorRate``  the named model error (probability ``errorRate``, default 1), or, with only
                      ``errorRate``, 500 ``InternalServerException`` at that rate
"""

from __future__ import annotations

import math
import random
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pydantic as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from . import clock, service_faults, shapes
from .errors import DrsError, unrecognized_client

WILDCARD = "*"
THROTTLE_QUOTA_CODE = "L-DRS-SIM-API-RATE"  # DRS publishes no API-rate quota codes; this one is the simulator's
_ACCOUNT_RE = re.compile(r"^\d{12}$")


class FaultError(ValueError):
    """A fault definition is invalid; the message names the field (``faults[2].error: ...``)."""


class Fault(BaseModel):
    """One fault rule, camelCase on the wire (``accountId``, ``throttleTps``); numbers and booleans strict."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True)

    service: Literal["drs", "ec2", "sts"] = "drs"
    account_id: str = WILDCARD
    region: str = WILDCARD
    operation: str = WILDCARD
    operations: tuple[str, ...] | None = None
    staging_account_id: str = WILDCARD
    latency_ms: pd.StrictInt = Field(default=0, ge=0, le=120_000)
    throttle_tps: pd.StrictFloat | None = Field(default=None, gt=0)
    burst: pd.StrictInt | None = Field(default=None, ge=1)
    shared_bucket: pd.StrictBool = False
    access_denied: pd.StrictBool = False
    uninitialized: pd.StrictBool = False
    not_enabled: pd.StrictBool = False
    error_rate: pd.StrictFloat | None = Field(default=None, ge=0.0, le=1.0)
    error: str | None = None
    message: str | None = Field(default=None, max_length=2048)
    times: pd.StrictInt | None = Field(default=None, ge=1)

    @field_validator("account_id", "staging_account_id")
    @classmethod
    def _account(cls, v: str) -> str:
        if v != WILDCARD and not _ACCOUNT_RE.match(v):
            raise ValueError(f"must be '*' or a 12-digit account id, not {v!r}")
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str, info: ValidationInfo) -> str:
        service = info.data.get("service", "drs")
        known = shapes.regions() if service == "drs" else service_faults.regions(service)
        if v != WILDCARD and v not in known:
            raise ValueError(f"{v!r} is not a {service.upper()} region (botocore lists {len(known)})")
        return v

    @field_validator("operation")
    @classmethod
    def _operation(cls, v: str, info: ValidationInfo) -> str:
        service = info.data.get("service", "drs")
        known = shapes.operation_names() if service == "drs" else service_faults.operation_names(service)
        if v != WILDCARD and v not in known:
            raise ValueError(f"{v!r} is not a {service.upper()} operation")
        return v

    @field_validator("operations")
    @classmethod
    def _operations(cls, v: tuple[str, ...] | None, info: ValidationInfo) -> tuple[str, ...] | None:
        if v is not None:
            if not v:
                raise ValueError("must name at least one operation")
            _check_operations(info.data.get("service", "drs"), v)
        return v

    @field_validator("error")
    @classmethod
    def _error_name(cls, v: str | None, info: ValidationInfo) -> str | None:
        service = info.data.get("service", "drs")
        known = shapes.error_names() if service == "drs" else set(service_faults.ERRORS[service])
        if v is not None and v not in known:
            answers = "the DRS model defines" if service == "drs" else f"{service.upper()} answers"
            raise ValueError(f"{v!r} is not an error {answers} ({', '.join(sorted(known))})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Fault:
        if self.operations is not None and self.operation != WILDCARD:
            raise ValueError("give either operation or operations, not both")
        if self.burst is not None and self.throttle_tps is None:
            raise ValueError("burst needs throttleTps")
        if self.service != "drs" and (self.uninitialized or self.staging_account_id != WILDCARD):
            raise ValueError("uninitialized and stagingAccountId apply to DRS faults only")
        if self.error is not None and self.service == "drs":
            for op in self.operation_set or ():
                if self.error not in shapes.operation_errors(op):
                    declared = ", ".join(sorted(shapes.operation_errors(op)))
                    raise ValueError(
                        f"error: {self.error} is not an error the DRS model defines for {op} (it defines: {declared})"
                    )
        if not (
            self.latency_ms
            or self.throttle_tps
            or self.access_denied
            or self.uninitialized
            or self.not_enabled
            or self.error
            or self.error_rate
        ):
            raise ValueError(
                "the fault has no effect: set latencyMs, throttleTps, accessDenied, uninitialized, notEnabled, "
                "error or errorRate"
            )
        return self

    @property
    def operation_set(self) -> frozenset[str] | None:
        """The operations this fault is limited to; ``None`` = every operation."""
        if self.operations is not None:
            return frozenset(self.operations)
        return None if self.operation == WILDCARD else frozenset({self.operation})

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_defaults=True, mode="json")


def _check_operations(service: str, operations: Iterable[str]) -> None:
    known = shapes.operation_names() if service == "drs" else service_faults.operation_names(service)
    bad = [o for o in operations if o not in known]
    if bad:
        raise ValueError(f"not {service.upper()} operations: {', '.join(bad)}")


def parse_faults(raw: Iterable[dict[str, Any] | Fault], *, path: str = "faults") -> list[Fault]:
    """Validate fault dicts; raises :class:`FaultError` naming the first bad field (``faults[1].region``)."""
    out: list[Fault] = []
    for i, item in enumerate(raw):
        if isinstance(item, Fault):
            out.append(item)
            continue
        if not isinstance(item, dict):
            raise FaultError(f"{path}[{i}]: must be a mapping, not {type(item).__name__}")
        try:
            out.append(Fault.model_validate(item))
        except ValidationError as e:
            raise FaultError(f"{path}[{i}]{format_validation_error(e)}") from None
    return out


def format_validation_error(e: ValidationError) -> str:
    """``.field.sub: message`` for the first error of a pydantic ValidationError (camelCase locations)."""
    err = e.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{loc}: {msg}"


# -------------------------------------------------------------------------------------- runtime
class TokenBucket:
    """Classic token bucket: ``rate`` tokens/s, at most ``burst`` tokens, starts full."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = float(rate)
        self.burst = float(max(burst, 1.0))
        self.tokens = self.burst
        self.updated = clock.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        with self._lock:
            now = clock.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0
            return (1.0 - self.tokens) / self.rate


@dataclass(frozen=True)
class Call:
    """What a fault matches on."""

    account: str
    region: str
    operation: str
    staging_account: str | None = None
    service: str = "drs"


class _Rule:
    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.ops = fault.operation_set
        self.remaining = fault.times
        self.buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self.lock = threading.Lock()

    def matches(self, call: Call) -> bool:
        f = self.fault
        if f.service != call.service:
            return False
        if f.account_id not in (WILDCARD, call.account) or f.region not in (WILDCARD, call.region):
            return False
        if self.ops is not None and call.operation not in self.ops:
            return False
        if f.staging_account_id != WILDCARD and f.staging_account_id != call.staging_account:
            return False
        return self.remaining is None or self.remaining > 0

    def fire(self) -> None:
        """Count one effective application against ``times``."""
        with self.lock:
            if self.remaining is not None:
                self.remaining -= 1

    def bucket(self, call: Call) -> TokenBucket:
        f = self.fault
        key = (call.account, call.region, WILDCARD if f.shared_bucket else call.operation)
        with self.lock:
            b = self.buckets.get(key)
            if b is None:
                rate = f.throttle_tps or 1.0
                b = self.buckets[key] = TokenBucket(rate, f.burst if f.burst is not None else max(1, math.ceil(rate)))
            return b


class FaultSet:
    """The active faults of an engine. Thread-safe; :meth:`evaluate` is called once per request."""

    def __init__(self, faults: Iterable[Fault] = (), rng: random.Random | None = None) -> None:
        self._rules = [_Rule(f) for f in faults]
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()

    @property
    def faults(self) -> list[Fault]:
        return [r.fault for r in self._rules]

    def _chance(self, p: float) -> bool:
        with self._rng_lock:
            return self._rng.random() < p

    def evaluate(self, call: Call) -> tuple[float, DrsError | None]:
        """(seconds to delay, error to answer or None) for one call."""
        rules = [r for r in self._rules if r.matches(call)]
        if not rules:
            return 0.0, None
        delay = 0.0
        for r in rules:
            if r.fault.latency_ms:
                delay = max(delay, r.fault.latency_ms / 1000.0)
                r.fire()
        return delay, self._first_error(rules, call)

    def _first_error(self, rules: list[_Rule], call: Call) -> DrsError | None:
        """The first error in AWS's order: region not enabled, IAM, throttling, uninitialized, modelled."""
        if call.service != "drs":
            return self._service_error(rules, call)
        for stage in (_not_enabled, _access_denied, _throttled, _uninitialized, self._modelled):
            error = stage(rules, call)
            if error is not None:
                return error
        return None

    def _service_error(self, rules: list[_Rule], call: Call) -> DrsError | None:
        """The same order for EC2 and STS, with their codes (:mod:`sandbox.drs.service_faults`)."""
        sf = service_faults
        for flag, codes in (("not_enabled", sf.NOT_ENABLED), ("access_denied", sf.ACCESS_DENIED)):
            for r in rules:
                if getattr(r.fault, flag):
                    r.fire()
                    return service_faults.answer(call, codes[call.service], r.fault.message)
        for r in rules:
            if r.fault.throttle_tps and r.bucket(call).take():
                r.fire()
                return service_faults.answer(call, sf.THROTTLED[call.service], r.fault.message)
        for r in rules:
            f = r.fault
            if (f.error or f.error_rate) and (f.error_rate is None or self._chance(f.error_rate)):
                r.fire()
                return service_faults.answer(call, f.error or sf.INTERNAL[call.service], f.message)
        return None

    def _modelled(self, rules: list[_Rule], call: Call) -> DrsError | None:
        for r in rules:
            f = r.fault
            if f.error is not None:
                if f.error not in shapes.operation_errors(call.operation):
                    continue  # wildcard operation: only operations that can answer this error
                if f.error_rate is None or self._chance(f.error_rate):
                    r.fire()
                    return modelled_error(f.error, f.message)
            elif f.error_rate and self._chance(f.error_rate):
                r.fire()
                return DrsError("InternalServerException", f.message or "Internal server error (simulated)")
        return None


def _not_enabled(rules: list[_Rule], call: Call) -> DrsError | None:
    for r in rules:
        if r.fault.not_enabled:
            r.fire()
            return unrecognized_client(r.fault.message)
    return None


def _access_denied(rules: list[_Rule], call: Call) -> DrsError | None:
    for r in rules:
        if r.fault.access_denied:
            r.fire()
            return DrsError("AccessDeniedException", r.fault.message or access_denied_message(call))
    return None


def _throttled(rules: list[_Rule], call: Call) -> DrsError | None:
    for r in rules:
        if r.fault.throttle_tps:
            wait = r.bucket(call).take()
            if wait:
                r.fire()
                return DrsError(
                    "ThrottlingException",
                    r.fault.message or "Rate exceeded",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                    serviceCode="drs",
                    quotaCode=THROTTLE_QUOTA_CODE,
                )
    return None


def _uninitialized(rules: list[_Rule], call: Call) -> DrsError | None:
    if "UninitializedAccountException" not in shapes.operation_errors(call.operation):
        return None
    for r in rules:
        if r.fault.uninitialized:
            r.fire()
            return uninitialized_error(r.fault.message)
    return None


def access_denied_message(call: Call) -> str:
    return (
        f"User is not authorized to perform: drs:{call.operation} on resource: "
        f"arn:aws:drs:{call.region}:{call.account}:* because no identity-based policy allows the "
        f"drs:{call.operation} action"
    )


def uninitialized_error(message: str | None = None) -> DrsError:
    return DrsError("UninitializedAccountException", message or "Account is not initialized")


def modelled_error(code: str, message: str | None) -> DrsError:
    """An error the model defines, with the members its shape requires or commonly carries."""
    message = message or f"{code} (simulated)"
    if code == "ThrottlingException":
        return DrsError(code, message, headers={"Retry-After": "1"}, serviceCode="drs", quotaCode=THROTTLE_QUOTA_CODE)
    if code == "ValidationException":
        return DrsError(code, message, reason="other")
    if code == "ServiceQuotaExceededException":
        return DrsError(code, message, serviceCode="drs", quotaCode="L-DRS-SIM-FAULT")
    return DrsError(code, message)
