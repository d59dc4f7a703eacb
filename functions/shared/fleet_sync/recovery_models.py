"""What the recovery-instance sync accepts and plans, kept light: `syncs.py` imports it.

A run is either the scheduled one (every active pair of every target account) or a *scoped* run for
one wave: `{"accountId", "region", "sourceServerIds", "executionId"}` syncs just those servers' recovery
instances in that one pair and records `sourceExecutionId` directly.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from .accounts import AccountRecord
from .errors import InvalidSyncInput
from .models import ACCOUNT_ID, SyncInput
from .plan import Plan

SYNC = "recovery-instances"
MACHINE_SUFFIX = "recovery-instance-sync"
SCOPED_DECISION = "scoped"
SOURCE_SERVER_ID = r"^s-[0-9a-zA-Z]{17}$"
MAX_SCOPED_SERVERS = 1000  # one wave; DescribeRecoveryInstances is called with at most 200 ids at a time


class RecoveryInstanceSyncInput(SyncInput):
    """The scheduled input (`accounts`, `regions`, `mode`) or a scoped wave-completion run; never both."""

    accountId: str | None = Field(default=None, pattern=ACCOUNT_ID)
    region: str | None = Field(default=None, min_length=1, max_length=32)
    sourceServerIds: list[str] | None = Field(default=None, min_length=1, max_length=MAX_SCOPED_SERVERS)
    executionId: str | None = Field(default=None, min_length=1, max_length=256)

    @field_validator("sourceServerIds")
    @classmethod
    def _server_ids(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        import re

        bad = [s for s in v if not isinstance(s, str) or not re.fullmatch(SOURCE_SERVER_ID, s)]
        if bad:
            raise ValueError(f"not DRS source server ids (s- and 17 characters): {bad[:5]}")
        return sorted(set(v))

    @model_validator(mode="after")
    def _scoped_fields_together(self) -> RecoveryInstanceSyncInput:
        scoped = {
            "accountId": self.accountId,
            "region": self.region,
            "sourceServerIds": self.sourceServerIds,
            "executionId": self.executionId,
        }
        given = [k for k, v in scoped.items() if v is not None]
        if given and len(given) != len(scoped):
            missing = sorted(set(scoped) - set(given))
            raise ValueError(
                f"a wave-completion run needs accountId, region, sourceServerIds and executionId; missing {missing}"
            )
        if given and (self.accounts is not None or self.regions is not None or self.mode is not None):
            raise ValueError("a wave-completion run takes no accounts, regions or mode")
        return self

    @property
    def scoped(self) -> bool:
        return self.accountId is not None


def target_accounts(accounts: list[AccountRecord], request: SyncInput) -> list[AccountRecord]:
    """Recovery instances are launched in target accounts; staging accounts hold none."""
    return [a for a in accounts if a.kind == "target"]


def scoped_plan(request: SyncInput, registered_accounts: list[str], all_regions: list[str]) -> Plan | None:
    """The plan of a wave-completion run: exactly its one pair. None for a scheduled run."""
    if not isinstance(request, RecoveryInstanceSyncInput) or not request.scoped:
        return None
    assert request.accountId is not None and request.region is not None
    if request.accountId not in registered_accounts:
        raise InvalidSyncInput(f"accountId: {request.accountId} is not a registered target account")
    if request.region not in all_regions:
        raise InvalidSyncInput(f"region: {request.region} is not a DRS region")
    item = {"accountId": request.accountId, "region": request.region}
    return Plan(SCOPED_DECISION, [item], [request.accountId], [request.region], [], 1)
