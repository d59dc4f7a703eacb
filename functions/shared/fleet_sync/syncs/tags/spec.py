"""What the tag sync changes in the shared run: its input, its summary counters and fields.

Read-only: nothing here calls DRS, so the shared task functions can import it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ...core.observability import logger
from ...run.models import ItemResult, RunRecord, SyncInput
from ...run.spec import SyncSpec
from ...run.summary import Summary, counter

SKIPPED_PREFIX = "skipped."
# Calls a skipped (account, region) pair costs at the least: its AssumeRole and one DescribeSourceServers
# page (when its inventory is not fresh). Pairs holding servers cost more; those are never skipped.
MIN_CALLS_PER_PAIR = 2


class TagsSyncInput(SyncInput):
    """The common scope and mode; the tag sync has no options of its own."""


class TagsSummary(Summary):
    serversTagged: int = counter("servers whose tags changed")
    tagsAdded: int = counter("tags set (added or changed)")
    tagsRemoved: int = counter("tags removed (only keys this sync wrote)")
    launchConfigsUpdated: int = counter("launch configurations set to copyTags=True (once a week per server)")
    skipped: dict[str, int] = Field(description="servers not tagged, by reason")
    regionsScanned: int = Field(description="regions the plan scanned")
    callsSavedVsAllRegions: int = Field(description="calls the skipped pairs would have cost at the least")


def skipped_count_key(reason: str) -> str:
    return f"{SKIPPED_PREFIX}{reason}"


def summary_fields(summary: Summary, results: list[ItemResult], run: RunRecord) -> dict[str, Any]:
    fields = {
        "skipped": {
            k[len(SKIPPED_PREFIX) :]: v for k, v in sorted(summary.counts.items()) if k.startswith(SKIPPED_PREFIX)
        },
        "regionsScanned": len({r.region for r in results}),  # every result: the summary lists only the first N
        "callsSavedVsAllRegions": summary.pairsSkipped * MIN_CALLS_PER_PAIR,
    }
    logger.info(
        "tag sync summarized",
        extra={
            "regionsScanned": fields["regionsScanned"],
            "regionsSkipped": summary.regionsSkipped,
            "apiCalls": summary.apiCalls,
            "apiCallTotal": summary.apiCallTotal,
            "callsSavedVsAllRegions": fields["callsSavedVsAllRegions"],
            "serversTagged": summary.counts.get("serversTagged", 0),
        },
    )
    return fields


SPEC = SyncSpec("tags", input_model=TagsSyncInput, summary_model=TagsSummary, summary_fields=summary_fields)
