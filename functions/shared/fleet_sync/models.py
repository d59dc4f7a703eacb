"""Pydantic models of what travels between the states of a sync: inputs, work items, item results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InvalidSyncInput

ACCOUNT_ID = r"^\d{12}$"
MAX_ERRORS_IN_SUMMARY = 50
MAX_WORK_ITEMS_IN_SUMMARY = 1000


class SyncInput(BaseModel):
    """Execution input every sync accepts: an optional scope and mode. Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[str] | None = Field(default=None, min_length=1)
    regions: list[str] | None = Field(default=None, min_length=1)
    mode: Literal["discovery"] | None = None

    @field_validator("accounts")
    @classmethod
    def _account_ids(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            import re

            bad = [a for a in v if not isinstance(a, str) or not re.fullmatch(ACCOUNT_ID, a)]
            if bad:
                raise ValueError(f"not 12-digit account ids: {bad}")
        return v


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in err["loc"]) or "(input)", "message": err["msg"]} for err in exc.errors()]


def parse_sync_input(model: type[SyncInput], sync: str, raw: Any) -> SyncInput:
    """Validate a sync's execution input, raising InvalidSyncInput that names every bad field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidSyncInput(f"execution input must be a JSON object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in field_errors(exc))
        raise InvalidSyncInput(f"invalid {sync} sync input: {detail}") from None


class WorkItem(BaseModel):
    """One (account, region) a sync scans; what the Distributed Map hands each worker."""

    model_config = ConfigDict(extra="ignore")

    sync: str
    runId: str = Field(min_length=1)
    accountId: str = Field(pattern=ACCOUNT_ID)
    region: str = Field(min_length=1)
    mode: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class ItemResult(BaseModel):
    """The small result of one work item, kept in the sync-state table (never in the state payload)."""

    accountId: str
    region: str
    status: str  # a region status: AVAILABLE, THROTTLED, ACCESS_DENIED, ...
    ok: bool
    serverCount: int | None = None
    replicatingCount: int | None = None
    apiCalls: dict[str, int] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    errorCode: str | None = None
    errorMessage: str | None = None
    warnings: list[str] = Field(default_factory=list)
    durationMs: int = 0
