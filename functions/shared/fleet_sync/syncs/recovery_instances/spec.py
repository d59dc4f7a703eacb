"""What the recovery-instance sync accepts and plans, and its summary: read-only, so the shared tasks can
import it.

A run is either the scheduled one (every active pair of every target account) or a *scoped* run of one
pair: `{"accountId", "region"}` syncs every recovery instance of that pair (a DRS event named it: a launch,
a failback, a terminate), and `{"accountId", "region", "sourceServerIDs", "executionId"}` (one completed
wave) just those servers' recovery instances, recording `sourceExecutionId` directly.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from ...core.ids import ACCOUNT_ID, SOURCE_SERVER_ID
from ...run.accounts import AccountRecord
from ...run.models import SyncInput
from ...run.plan import Plan, pair_plan
from ...run.spec import SyncSpec
from ...run.summary import Summary, counter

SYNC = "recovery-instances"
MAX_SCOPED_SERVERS = 1000  # one wave; DescribeRecoveryInstances is called with at most 200 ids at a time


class RecoveryInstancesSyncInput(SyncInput):
    """The scheduled input (`accounts`, `regions`, `mode`) or a scoped run of one pair (optionally one wave's
    servers); never both."""

    accountId: str | None = Field(default=None, pattern=ACCOUNT_ID)
    region: str | None = Field(default=None, min_length=1, max_length=32)
    sourceServerIDs: list[str] | None = Field(default=None, min_length=1, max_length=MAX_SCOPED_SERVERS)
    executionId: str | None = Field(default=None, min_length=1, max_length=256)

    @field_validator("sourceServerIDs")
    @classmethod
    def _server_ids(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        bad = [s for s in v if not isinstance(s, str) or not re.fullmatch(SOURCE_SERVER_ID, s)]
        if bad:
            raise ValueError(f"not DRS source server ids (s- and 17 characters): {bad[:5]}")
        return sorted(set(v))

    @model_validator(mode="after")
    def _scoped_fields_together(self) -> RecoveryInstancesSyncInput:
        pair = {"accountId": self.accountId, "region": self.region}
        wave = {"sourceServerIDs": self.sourceServerIDs, "executionId": self.executionId}
        given = [k for k, v in {**pair, **wave}.items() if v is not None]
        if any(v is not None for v in wave.values()) and None in {**pair, **wave}.values():
            missing = sorted(k for k, v in {**pair, **wave}.items() if v is None)
            raise ValueError(
                f"a wave-completion run needs accountId, region, sourceServerIDs and executionId; missing {missing}"
            )
        if given and None in pair.values():
            missing = sorted(k for k, v in pair.items() if v is None)
            raise ValueError(f"a scoped run names one pair: accountId and region; missing {missing}")
        if given and (self.accounts is not None or self.regions is not None or self.mode is not None):
            raise ValueError("a scoped run takes no accounts, regions or mode")
        return self

    @property
    def scoped(self) -> bool:
        return self.accountId is not None


class RecoveryInstancesSummary(Summary):
    instancesUpdated: int = counter("cache rows written")
    instancesRemoved: int = counter("cache rows of instances DRS no longer has, removed")


def target_accounts(accounts: list[AccountRecord], request: SyncInput) -> list[AccountRecord]:
    """Recovery instances are launched in target accounts; staging accounts hold none."""
    return [a for a in accounts if a.kind == "target"]


def scoped_plan(request: SyncInput, registered_accounts: list[str], all_regions: list[str]) -> Plan | None:
    """The plan of a scoped run: exactly its one pair. None for a scheduled run."""
    if not isinstance(request, RecoveryInstancesSyncInput) or request.accountId is None or request.region is None:
        return None
    return pair_plan(request.accountId, request.region, registered_accounts, all_regions, "target")


SPEC = SyncSpec(
    SYNC,
    input_model=RecoveryInstancesSyncInput,
    summary_model=RecoveryInstancesSummary,
    select_accounts=target_accounts,
    scoped_plan=scoped_plan,
)
