"""What travels between the states of a sync, as pydantic models: the execution input, each task's event and
result, the work item and its result. The summary is `run.summary.Summary`."""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..core.errors import InvalidSyncInput
from ..core.ids import ACCOUNT_ID

MAX_ERRORS_IN_SUMMARY = 50
MAX_WORK_ITEMS_IN_SUMMARY = 1000
MAX_WARNINGS_PER_ITEM = 20
MAX_NOTES_PER_ITEM = 15

# How a run chose its pairs (docs/design.md): the plan's decisions, a skipped run and a scoped run.
Decision = Literal[
    "filtered", "fallback_empty", "fallback_error", "discovery", "filtering_disabled", "skipped", "scoped"
]
Model = TypeVar("Model", bound=BaseModel)

# The sample events (events/task-*.json) name their run sample-<sync>: a task invoked alone with one on a
# deployed stack takes no lock and records no status, summary, region status or metric, and a staging
# worker only reports what it would extend. No execution the stack starts has such a name ({sync}-{uuid}).
SAMPLE_RUN_PREFIX = "sample-"


def is_sample_run(run_id: str) -> bool:
    return run_id.startswith(SAMPLE_RUN_PREFIX)


class SyncInput(BaseModel):
    """Execution input every sync accepts: an optional scope and mode. Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[str] | None = Field(default=None, min_length=1)
    regions: list[str] | None = Field(default=None, min_length=1)
    mode: Literal["discovery"] | None = None

    @field_validator("accounts")
    @classmethod
    def _account_ids(cls, v: list[str] | None) -> list[str] | None:
        return account_ids(v)

    @property
    def scoped(self) -> bool:
        """A scoped run (its input names its one pair), which takes the sync's lock before it starts."""
        return False


def account_ids(v: list[str] | None) -> list[str] | None:
    """A validator of lists of account ids (12 digits each)."""
    if v is not None:
        bad = [a for a in v if not isinstance(a, str) or not re.fullmatch(ACCOUNT_ID, a)]
        if bad:
            raise ValueError(f"not 12-digit account ids: {bad}")
    return v


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in err["loc"]) or "(input)", "message": err["msg"]} for err in exc.errors()]


Input = TypeVar("Input", bound=SyncInput)


def parse_sync_input(model: type[Input], sync: str, raw: Any) -> Input:
    """Validate a sync's execution input, raising InvalidSyncInput that names every bad field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidSyncInput(f"execution input must be a JSON object, got {type(raw).__name__}")
    return parse_event(model, raw, f"{sync} sync input")


def parse_event(model: type[Model], raw: Any, what: str) -> Model:
    """A task's event as its model, or InvalidSyncInput naming every bad field (nothing was written)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in field_errors(exc))
        raise InvalidSyncInput(f"invalid {what}: {detail}") from None


class Pair(BaseModel):
    """One (account, region)."""

    accountId: str
    region: str


# ------------------------------------------------------------------ the tasks' events and results


class ResolveEvent(BaseModel):
    """Resolve's event: the sync, its execution input and the execution (from the context object)."""

    model_config = ConfigDict(extra="forbid")

    sync: str
    input: Any = None
    executionArn: str = Field(min_length=1)
    executionName: str = Field(min_length=1)
    startTime: str | None = None
    retryCount: int = Field(default=0, ge=0)  # $$.State.RetryCount: how often a scoped run waited for the lock


class PlanRef(BaseModel):
    """Where the plan's work items are: the S3 object the Distributed Map reads."""

    bucket: str
    key: str


class RunRecord(BaseModel):
    """Resolve's result, which every later state carries as `run`: the execution and its plan."""

    model_config = ConfigDict(extra="forbid")

    sync: str
    runId: str = Field(min_length=1)
    executionArn: str = Field(min_length=1)
    startTime: str | None = None
    mode: Literal["scheduled", "discovery"] = "scheduled"
    options: dict[str, Any] = Field(default_factory=dict, description="the sync's own input fields")
    decision: Decision
    plan: PlanRef | None = None
    workItemCount: int = 0
    workItems: list[Pair] = Field(default_factory=list, description=f"the first {MAX_WORK_ITEMS_IN_SUMMARY}")
    activeRegions: list[str] = Field(default_factory=list)
    regionsInScope: int = 0
    regionsSkipped: int = 0
    pairsTotal: int = 0
    pairsSkipped: int = 0
    itemExpiresAt: int = Field(
        default=0, description="epoch seconds: the TTL of the run's item results, also those the state machine writes"
    )


class RunEvent(BaseModel):
    """The event of Summarize the run and Update region status."""

    model_config = ConfigDict(extra="forbid")

    run: RunRecord


class CaughtError(BaseModel):
    """What an ASL Catch hands on: the error's name and its cause (for a Lambda, its error document as JSON)."""

    Error: str
    Cause: str | None = None


class FinishEvent(BaseModel):
    """Finish's event: the run, its summary (none for a skipped run or when Summarize failed) and the shared
    tasks that failed, by the name their Catch gives them. The summary is validated with the sync's own
    summary model."""

    model_config = ConfigDict(extra="forbid")

    run: RunRecord
    summary: dict[str, Any] | None = None
    failures: dict[str, CaughtError] = Field(default_factory=dict)


class RegionStatusUpdate(BaseModel):
    """Update region status's result."""

    pairsUpdated: int


class InvalidateEvent(BaseModel):
    sync: str | None = None


class CacheInvalidated(BaseModel):
    """Invalidate's result: the new generation stamp."""

    generation: str | None


# ------------------------------------------------------------------ the work item and its result


class WorkItem(BaseModel):
    """One (account, region) a sync scans; what the Distributed Map hands each worker."""

    model_config = ConfigDict(extra="ignore")

    sync: str
    runId: str = Field(min_length=1)
    accountId: str = Field(pattern=ACCOUNT_ID)
    region: str = Field(min_length=1)
    mode: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    executionArn: str | None = None


class ItemNote(BaseModel):
    """A structured record about one resource of the item's pair, which the sync's summary lists by kind
    (the staging sync: a failed extension, a dry-run candidate)."""

    kind: str = Field(min_length=1)
    record: dict[str, str | None]


class ItemResult(BaseModel):
    """The small result of one work item, kept in the sync-state table (never in the state payload)."""

    accountId: str
    region: str
    status: str  # a region status: AVAILABLE, THROTTLED, ACCESS_DENIED, ...
    ok: bool
    serverCount: int | None = Field(
        default=None, description="the DRS source servers the item listed in its pair; None: it lists none"
    )
    replicatingCount: int | None = None
    apiCalls: dict[str, int] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    errorCode: str | None = None
    errorMessage: str | None = None
    warnings: list[str] = Field(default_factory=list)
    notes: list[ItemNote] = Field(default_factory=list)
    durationMs: int = 0
