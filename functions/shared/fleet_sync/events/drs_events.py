"""The DRS events the hub acts on (docs/events.md), and what each means for the product's syncs.

Two kinds reach the hub's bus, both with `source` `aws.drs`: the service events DRS sends to EventBridge
itself (their `detail-type` names them), and the DRS API calls CloudTrail records (`detail-type` "AWS API
Call via CloudTrail", the call in `detail.eventName`). Each names the (account, region) where it happened
in its `account` and `region`, which EventBridge sets: a sender cannot choose them.

The template's rule pattern lists exactly these names (tests/unit/template/test_events.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.ids import ACCOUNT_ID, REGION

SOURCE = "aws.drs"
API_CALL = "AWS API Call via CloudTrail"
INVENTORY = "inventory"
RECOVERY_INSTANCES = "recovery-instances"
STAGING = "staging"


@dataclass(frozen=True)
class Meaning:
    """What an event says about its pair: whether source servers exist there now, and which syncs to run."""

    servers_exist: bool
    syncs: tuple[str, ...]


_INVENTORY = (INVENTORY,)
_RECOVERY = (INVENTORY, RECOVERY_INSTANCES)

SERVICE_EVENTS: dict[str, Meaning] = {
    "DRS Source Server Launch Result": Meaning(True, _RECOVERY),
    "DRS Source Server Data Replication Stalled Change": Meaning(True, _INVENTORY),
    "DRS Recovery Instance Failback State Change": Meaning(True, _RECOVERY),
}
API_CALLS: dict[str, Meaning] = {
    "InitializeService": Meaning(False, _INVENTORY),
    # the replication agent registering its server with DRS (AWSElasticDisasterRecoveryAgentInstallationPolicy)
    "CreateSourceServerForDrs": Meaning(True, _INVENTORY),
    "CreateExtendedSourceServer": Meaning(True, (INVENTORY, STAGING)),
    "DeleteSourceServer": Meaning(False, _INVENTORY),
    "DisconnectSourceServer": Meaning(True, _INVENTORY),
    "StartRecovery": Meaning(True, _RECOVERY),
    "StartFailbackLaunch": Meaning(True, _RECOVERY),
    "ReverseReplication": Meaning(True, _RECOVERY),
    "StopFailback": Meaning(True, _RECOVERY),
    "TerminateRecoveryInstances": Meaning(True, _RECOVERY),
    "DeleteRecoveryInstance": Meaning(True, _RECOVERY),
}


class DrsEvent(BaseModel):
    """An EventBridge event as the rule delivers it; only what the task reads is required."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    id: str = Field(min_length=1, max_length=128)
    source: str
    detail_type: str = Field(alias="detail-type", min_length=1, max_length=128)
    account: str = Field(pattern=ACCOUNT_ID)
    region: str = Field(pattern=REGION)
    time: str = Field(min_length=1, max_length=40)
    detail: dict[str, Any] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """The service event's detail-type, or the API call's eventName."""
        if self.detail_type == API_CALL:
            return str(self.detail.get("eventName") or "")
        return self.detail_type


def meaning_of(event: DrsEvent) -> Meaning | None:
    """What the event means, or None for one the hub does not act on (another source or name, or an API call
    that failed: CloudTrail records refused calls too, with their errorCode, and those changed nothing)."""
    if event.source != SOURCE:
        return None
    if event.detail_type == API_CALL:
        if event.detail.get("errorCode"):
            return None
        return API_CALLS.get(event.name)
    return SERVICE_EVENTS.get(event.detail_type)


def rule_pattern() -> dict[str, Any]:
    """The EventBridge pattern matching exactly the events above (the template's rule has this pattern)."""
    return {
        "source": [SOURCE],
        "$or": [
            {"detail-type": sorted(SERVICE_EVENTS)},
            {"detail-type": [API_CALL], "detail": {"eventName": sorted(API_CALLS)}},
        ],
    }
