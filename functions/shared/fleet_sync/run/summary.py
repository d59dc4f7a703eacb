"""The summary contract: what every sync's run returns (its execution output) and stores.

`Summary` holds the fields every sync has; each sync's summary model (its spec's `summary_model`) adds its own
counters (`counter()` fields, the sum of that count over the items) and fields. docs/design.md's tables of the
contract are generated from these models (`contract_table`; tests/unit/layer/test_summary_contract.py keeps them
current), the sandbox's summary formatter takes its labels from them and the workflow tests validate every
run's output with them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from .models import MAX_ERRORS_IN_SUMMARY, MAX_WORK_ITEMS_IN_SUMMARY, Decision, ItemResult, Pair, RunRecord

Outcome = Literal["complete", "partial", "failed", "skipped"]
# A field the formatter leaves out: another field already says it (the execution name, a length, a total).
DERIVED: JsonDict = {"derived": True}


COUNTER: JsonDict = {"counter": True}


def counter(description: str) -> Any:
    """A sync's own summary counter: the sum of the items' count of the same name."""
    return Field(default=0, ge=0, description=description, json_schema_extra=COUNTER)


class ItemError(BaseModel):
    """One failed work item."""

    accountId: str
    region: str
    code: str
    message: str


class TaskFailure(BaseModel):
    """A shared task of the run that failed after its retries (the run finished without it)."""

    error: str = Field(description="the name the state machine gives the failure, e.g. RegionStatusNotUpdated")
    taskError: str = Field(description="the task's own error, e.g. the Lambda's exception class")
    cause: str = Field(description="the task's error message")


class Summary(BaseModel):
    """The fields every sync's summary carries (docs/design.md, "Summary contract")."""

    model_config = ConfigDict(extra="forbid")

    sync: str = Field(description="the sync's name")
    status: str = Field(default="SUCCEEDED", description="the execution's status (the sandbox sets it)")
    executionArn: str = Field(description="the execution")
    runId: str = Field(description="the execution's name", json_schema_extra=DERIVED)
    decision: Decision = Field(title="decision", description="how the plan chose its pairs")
    outcome: Outcome = Field(
        description="complete, partial (some items or a shared task failed), failed (all items, or summarizing)"
        " or skipped"
    )
    workItems: list[Pair] = Field(
        title="work items", description=f"the (account, region) pairs scanned, the first {MAX_WORK_ITEMS_IN_SUMMARY}"
    )
    workItemCount: int = Field(description="how many pairs the plan holds", json_schema_extra=DERIVED)
    activeRegions: list[str] = Field(description="regions holding servers in any account in scope, as last seen")
    regionsSkipped: int = Field(title="regions skipped", description="regions in scope the plan did not scan")
    pairsTotal: int = Field(description="(account, region) pairs in scope")
    pairsSkipped: int = Field(description="pairs in scope the plan did not scan")
    serversSynced: int = Field(
        title="servers synced", description="the items' serverCount summed over successful items"
    )
    apiCalls: dict[str, int] = Field(title="API calls", description="AWS requests our tasks made, by operation")
    apiCallTotal: int = Field(description="their sum", json_schema_extra=DERIVED)
    itemsByStatus: dict[str, int] = Field(description="work items by region status (AVAILABLE, THROTTLED, ...)")
    errorCount: int = Field(description="failed work items", json_schema_extra=DERIVED)
    errors: list[ItemError] = Field(title="errors", description=f"the first {MAX_ERRORS_IN_SUMMARY} failed items")
    itemsWithoutResult: int | None = Field(
        default=None, description="planned items that recorded no result (only when some did not)"
    )
    counts: dict[str, int] = Field(description="every counter the items reported, summed")
    taskFailures: list[TaskFailure] | None = Field(
        default=None,
        description="shared tasks that failed (only when one did): the execution fails with the first one's name",
    )
    durationMs: int = Field(default=0, title="duration", description="from the execution's start to its summary")

    @classmethod
    def counters(cls) -> tuple[str, ...]:
        """The sync's own counters, lifted from `counts` to the top level."""
        return tuple(
            name
            for name, info in cls.model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("counter")
        )

    def dump(self) -> dict[str, Any]:
        """The summary as the execution returns it (optional fields left out when unset)."""
        return self.model_dump(mode="json", exclude_none=True)


def summarize(run: RunRecord, results: list[ItemResult]) -> Summary:
    """The common summary of a run from its item results."""
    api_calls: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    errors: list[ItemError] = []
    for r in sorted(results, key=lambda r: (r.accountId, r.region)):
        api_calls.update(r.apiCalls)
        counts.update(r.counts)
        by_status[r.status] += 1
        if not r.ok:
            errors.append(
                ItemError(
                    accountId=r.accountId, region=r.region, code=r.errorCode or r.status, message=r.errorMessage or ""
                )
            )
    failed, scanned = len(errors), len(results)
    return Summary(
        sync=run.sync,
        executionArn=run.executionArn,
        runId=run.runId,
        decision=run.decision,
        outcome="complete" if failed == 0 else ("failed" if failed == scanned else "partial"),
        workItems=run.workItems[:MAX_WORK_ITEMS_IN_SUMMARY],
        workItemCount=run.workItemCount,
        activeRegions=run.activeRegions,
        regionsSkipped=run.regionsSkipped,
        pairsTotal=run.pairsTotal,
        pairsSkipped=run.pairsSkipped,
        apiCalls=dict(sorted(api_calls.items())),
        apiCallTotal=sum(api_calls.values()),
        itemsByStatus=dict(sorted(by_status.items())),
        serversSynced=sum(r.serverCount or 0 for r in results if r.ok),
        errorCount=failed,
        errors=errors[:MAX_ERRORS_IN_SUMMARY],
        counts=dict(sorted(counts.items())),
    )


def contract_table(models: dict[str, type[Summary]]) -> str:
    """docs/design.md's tables of the summary contract: the common fields, then each sync's own."""
    lines = ["| field | type | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{n}` | {_type_name(i.annotation)} | {i.description} |" for n, i in Summary.model_fields.items()]
    lines += ["", "| sync | its own field | meaning |", "| --- | --- | --- |"]
    for sync, model in models.items():
        for name, info in model.model_fields.items():
            if name not in Summary.model_fields:
                kind = "counter: " if name in model.counters() else ""
                lines.append(f"| `{sync}` | `{name}` | {kind}{info.description} |")
    return "\n".join(lines) + "\n"


def _type_name(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "")
    for noise in ("fleet_sync.run.models.", "fleet_sync.run.summary.", "<class '", "'>"):
        text = text.replace(noise, "")
    if text.startswith("Literal["):
        return "one of " + text.removeprefix("Literal[").removesuffix("]").replace("'", "`")
    return text.replace(" | None", ", optional")
