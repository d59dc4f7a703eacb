"""What a fault does to an EC2 or STS call: the names, regions and error codes AWS uses for those services.

DRS faults answer DRS's modelled errors (:mod:`sandbox.drs.faults`). A fault with ``"service": "ec2"`` or
``"sts"`` answers what those services answer instead (both speak the query protocol; EC2's model defines
no errors at all, so the codes below are the ones AWS documents):

============  ==============================  =====================================
effect        EC2                             STS
============  ==============================  =====================================
notEnabled    401 ``AuthFailure``             403 ``RegionDisabledException``
accessDenied  403 ``UnauthorizedOperation``   403 ``AccessDenied``
throttleTps   503 ``RequestLimitExceeded``    400 ``Throttling``
errorRate     500 ``InternalError``           500 ``InternalFailure``
============  ==============================  =====================================

``error`` names any code of the table :data:`ERRORS` (with its HTTP status).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .errors import DrsError

if TYPE_CHECKING:
    from .faults import Call

SERVICES = ("drs", "ec2", "sts")

# code -> HTTP status, per service (EC2: docs "Error codes for the Amazon EC2 API"; STS: its model + docs)
ERRORS: dict[str, dict[str, int]] = {
    "ec2": {
        "AuthFailure": 401,
        "UnauthorizedOperation": 403,
        "RequestLimitExceeded": 503,
        "InternalError": 500,
        "Unavailable": 503,
        "ServiceUnavailable": 503,
        "InvalidInstanceID.NotFound": 400,
        "OptInRequired": 403,
    },
    "sts": {
        "AccessDenied": 403,
        "Throttling": 400,
        "RegionDisabledException": 403,
        "InvalidClientTokenId": 403,
        "InternalFailure": 500,
        "ExpiredTokenException": 400,
        "MalformedPolicyDocument": 400,
        "PackedPolicyTooLarge": 400,
    },
}

NOT_ENABLED = {"ec2": "AuthFailure", "sts": "RegionDisabledException"}
ACCESS_DENIED = {"ec2": "UnauthorizedOperation", "sts": "AccessDenied"}
THROTTLED = {"ec2": "RequestLimitExceeded", "sts": "Throttling"}
INTERNAL = {"ec2": "InternalError", "sts": "InternalFailure"}


def status(service: str, code: str) -> int:
    return ERRORS[service].get(code, 400)


@functools.cache
def regions(service: str) -> frozenset[str]:
    """Every region botocore knows an endpoint of ``service`` in (the aws partition)."""
    import botocore.session

    return frozenset(botocore.session.get_session().get_available_regions(service))


@functools.cache
def operation_names(service: str) -> frozenset[str]:
    import botocore.session

    return frozenset(botocore.session.get_session().get_service_model(service).operation_names)


def message(service: str, code: str, operation: str, account: str, region: str) -> str:
    """The message AWS gives with ``code`` (close enough for a product that logs it)."""
    if code == "UnauthorizedOperation":
        return (
            f"You are not authorized to perform this operation. User in account {account} is not authorized "
            f"to perform: ec2:{operation}"
        )
    if code == "AccessDenied":
        return f"User is not authorized to perform: sts:{operation} in account {account}"
    if code == "RegionDisabledException":
        return (
            f"STS is not activated in this region for account:{account}. Your account administrator can "
            "activate STS in this region using the IAM Console."
        )
    if code == "InvalidClientTokenId":
        return "The security token included in the request is invalid."
    if code in ("RequestLimitExceeded", "Throttling"):
        return "Rate exceeded" if service == "sts" else "Request limit exceeded."
    if code == "AuthFailure":
        return "AWS was not able to validate the provided access credentials"
    return f"{code} (simulated)"


def answer(call: Call, code: str, text: str | None = None) -> DrsError:
    """The error ``call``'s service answers with ``code`` (its HTTP status; AWS's message unless ``text``)."""
    return DrsError(
        code,
        text or message(call.service, code, call.operation, call.account, call.region),
        status=status(call.service, code),
    )


def not_enabled_answer(call: Call) -> DrsError:
    """What EC2 or STS answers in a region the account has not enabled: EC2 ``AuthFailure``; STS
    ``RegionDisabledException`` for an AssumeRole of one of the account's roles (the account that would issue
    the credentials has not activated STS there), ``InvalidClientTokenId`` for its own credentials."""
    if call.service == "sts" and not call.operation.startswith("AssumeRole"):
        return answer(call, "InvalidClientTokenId")
    return answer(call, NOT_ENABLED[call.service])
