"""DRS regions and the status vocabulary of one (account, region).

A failed scan of a pair is recorded with the status its error code means; throttling is the one status the
state machine retries. Two statuses are answers, not failures: in most regions of most accounts DRS was never
initialized (UNINITIALIZED), and an opt-in region the account has not enabled rejects every call
(NOT_ENABLED). Such a pair is known to be empty: every sync records it with 0 servers and no error.
"""

from __future__ import annotations

from functools import lru_cache

import boto3

AVAILABLE = "AVAILABLE"
UNINITIALIZED = "UNINITIALIZED"
NOT_ENABLED = "NOT_ENABLED"
ACCESS_DENIED = "ACCESS_DENIED"
THROTTLED = "THROTTLED"
ERROR = "ERROR"
STATUSES = (AVAILABLE, UNINITIALIZED, NOT_ENABLED, ACCESS_DENIED, THROTTLED, ERROR)
KNOWN_EMPTY = (UNINITIALIZED, NOT_ENABLED)
# What DRS answers in a pair that holds nothing. The other NOT_ENABLED codes come from STS and EC2: from them
# they say nothing about the DRS pair, so they stay failures.
_KNOWN_EMPTY_CODES = frozenset({"UninitializedAccountException", "UnrecognizedClientException"})

_STATUS_BY_ERROR = {
    "UninitializedAccountException": UNINITIALIZED,
    "AccessDeniedException": ACCESS_DENIED,
    "AccessDenied": ACCESS_DENIED,
    "UnauthorizedOperation": ACCESS_DENIED,
    # An opt-in region the account has not enabled rejects the credentials outright.
    "UnrecognizedClientException": NOT_ENABLED,
    "InvalidClientTokenId": NOT_ENABLED,
    "AuthFailure": NOT_ENABLED,
    "OptInRequired": NOT_ENABLED,
    "ThrottlingException": THROTTLED,
    "Throttling": THROTTLED,
    "TooManyRequestsException": THROTTLED,
    "RequestLimitExceeded": THROTTLED,
    "RegionScanThrottled": THROTTLED,
}


def status_for_error(code: str) -> str:
    """The region status a failed (account, region) scan is recorded with."""
    return _STATUS_BY_ERROR.get(code, ERROR)


def is_throttling(code: str) -> bool:
    return status_for_error(code) == THROTTLED


def is_known_empty(code: str) -> bool:
    """Whether DRS's answer means the pair holds nothing: not initialized there, or the region not enabled."""
    return code in _KNOWN_EMPTY_CODES


@lru_cache(maxsize=1)
def sdk_drs_regions() -> tuple[str, ...]:
    """Commercial-partition DRS regions from the SDK's endpoint data (34 with botocore 1.44)."""
    return tuple(sorted(boto3.session.Session().get_available_regions("drs")))


def drs_regions(override: str = "") -> list[str]:
    """The regions the product considers: the template's override when given, else the SDK's list."""
    chosen = [r.strip() for r in override.split(",") if r.strip()]
    return sorted(set(chosen)) if chosen else list(sdk_drs_regions())
