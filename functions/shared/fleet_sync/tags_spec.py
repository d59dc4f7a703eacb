"""What the tag sync changes in the shared run: its input and its summary fields.

Read-only: nothing here calls DRS, so the shared task functions can import it (requirement 11).
"""

from __future__ import annotations

from typing import Any

from .models import ItemResult, SyncInput
from .observability import logger

SKIPPED_PREFIX = "skipped."
# Calls a skipped (account, region) pair costs at the least: its AssumeRole and one DescribeSourceServers
# page (when its inventory is not fresh). Pairs holding servers cost more; those are never skipped.
MIN_CALLS_PER_PAIR = 2


class TagSyncInput(SyncInput):
    """The common scope and mode; the tag sync has no options of its own."""


def skipped_count_key(reason: str) -> str:
    return f"{SKIPPED_PREFIX}{reason}"


def refine_tag_summary(summary: dict[str, Any], results: list[ItemResult], run: dict[str, Any]) -> dict[str, Any]:
    counts = summary.get("counts", {})
    summary["skipped"] = {
        k[len(SKIPPED_PREFIX) :]: v for k, v in sorted(counts.items()) if k.startswith(SKIPPED_PREFIX)
    }
    regions = sorted({w["region"] for w in summary.get("workItems", [])})
    summary["regionsScanned"] = len(regions)
    summary["callsSavedVsAllRegions"] = summary.get("pairsSkipped", 0) * MIN_CALLS_PER_PAIR
    logger.info(
        "tag sync summarized",
        extra={
            "regionsScanned": summary["regionsScanned"],
            "regionsSkipped": summary.get("regionsSkipped", 0),
            "apiCalls": summary.get("apiCalls", {}),
            "apiCallTotal": summary.get("apiCallTotal", 0),
            "callsSavedVsAllRegions": summary["callsSavedVsAllRegions"],
            "serversTagged": summary.get("serversTagged", 0),
        },
    )
    return summary
