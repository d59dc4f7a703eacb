"""The events the simulator emits, shaped as AWS shapes them (docs/events.md): CloudTrail's record of every DRS
API call that changes something (CloudTrail sends EventBridge no read-only calls), and DRS's own service events.

Delivery delays are simulator choices (AWS documents none; both are best effort): CloudTrail's records
reach EventBridge within seconds to a few minutes, DRS's service events within seconds.
"""

from __future__ import annotations

from typing import Any

from .ids import iso_now
from .specs import Json

SOURCE = "aws.drs"
API_CALL = "AWS API Call via CloudTrail"
API_CALL_DELAY_SECONDS = 15.0
SERVICE_EVENT_DELAY_SECONDS = 2.0
LAUNCH_RESULT = "DRS Source Server Launch Result"
REPLICATION_STALLED = "DRS Source Server Data Replication Stalled Change"
READ_ONLY_PREFIXES = ("Describe", "List", "Get")


def changes_something(operation: str) -> bool:
    return not operation.startswith(READ_ONLY_PREFIXES)


def api_call(
    operation: str, account: str, region: str, params: Json | None, *, error: tuple[str, str] | None = None
) -> Json:
    """CloudTrail's record of one DRS API call, as EventBridge delivers it (refused calls carry errorCode)."""
    detail: Json = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "accountId": account},
        "eventTime": iso_now(),
        "eventSource": "drs.amazonaws.com",
        "eventName": operation,
        "awsRegion": region,
        "requestParameters": params or None,
        "responseElements": None,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error is not None:
        detail["errorCode"], detail["errorMessage"] = error
    return {"source": SOURCE, "detail-type": API_CALL, "detail": detail}


def service_event(detail_type: str, resources: list[str], detail: dict[str, Any]) -> Json:
    return {"source": SOURCE, "detail-type": detail_type, "resources": resources, "detail": detail}
