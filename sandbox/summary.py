"""Readable text for sync summaries (the demo and `drs-fleet-sync sandbox run` without --json)."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

# Keys rendered in their own lines, in this order; anything else is listed under "also".
_KNOWN = (
    "sync",
    "status",
    "executionArn",
    "decision",
    "workItems",
    "regionsSkipped",
    "serversSynced",
    "apiCalls",
    "errors",
    "durationMs",
    "error",
    "cause",
)
# Counters that repeat a line above (the execution name, len(workItems), len(errors), the API call total).
_REDUNDANT = {"runId", "workItemCount", "errorCount", "apiCallTotal"}
MAX_ERRORS = 5
MAX_WIDTH = 110
LABEL_WIDTH = 18


def _pairs(items: Any) -> str:
    """[{accountId, region}, ...] -> '111111111111: us-east-1, us-west-2; 222222222222: eu-west-1'."""
    by_account: dict[str, list[str]] = defaultdict(list)
    for item in items:
        if isinstance(item, dict):
            by_account[str(item.get("accountId", "?"))].append(str(item.get("region", "?")))
        else:
            by_account["?"].append(str(item))
    return "; ".join(f"{acct}: {', '.join(sorted(regions))}" for acct, regions in sorted(by_account.items()))


def _clip(text: str, width: int = MAX_WIDTH) -> str:
    text = re.sub(r"\s*\n\s*", " ", str(text)).strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def _count_and_list(value: Any) -> str:
    if isinstance(value, list):
        listed = _pairs(value) if value else ""
        return f"{len(value)}" + (f"  ({_clip(listed, MAX_WIDTH - LABEL_WIDTH - 12)})" if listed else "")
    return str(value)


def _api_calls(calls: Any) -> str:
    if not isinstance(calls, dict):
        return str(calls)
    total = sum(v for v in calls.values() if isinstance(v, (int, float)))
    ranked = sorted(calls.items(), key=lambda kv: (-kv[1] if isinstance(kv[1], (int, float)) else 0, kv[0]))
    listed = _clip(", ".join(f"{op} {n}" for op, n in ranked), MAX_WIDTH - LABEL_WIDTH - 12)
    return f"{total}" + (f"  ({listed})" if ranked else "")


def _duration(ms: Any) -> str:
    try:
        return f"{float(ms) / 1000:.2f} s"
    except (TypeError, ValueError):
        return str(ms)


def _scalar(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_scalar(v)}" for k, v in value.items()) if value else "-"
    if isinstance(value, list):
        return f"{len(value)} ({_clip(', '.join(map(str, value)), 60)})" if value else "0"
    return str(value)


def format_summary(summary: dict[str, Any]) -> str:
    """A few aligned lines for one sync run."""
    lines = [f"{summary.get('sync', '?')}  {summary.get('status', '?')}"]

    def row(label: str, value: Any) -> None:
        lines.append(f"  {label:<{LABEL_WIDTH}} {value}")

    if summary.get("status") not in (None, "SUCCEEDED"):
        row("error", summary.get("error", ""))
        row("cause", _clip(summary.get("cause", ""), MAX_WIDTH - LABEL_WIDTH - 3))
    if "decision" in summary:
        row("decision", summary["decision"])
    if "workItems" in summary:
        row("work items", _count_and_list(summary["workItems"]))
    if "regionsSkipped" in summary:
        row("regions skipped", _count_and_list(summary["regionsSkipped"]))
    if "serversSynced" in summary:
        row("servers synced", summary["serversSynced"])
    if "apiCalls" in summary:
        row("API calls", _api_calls(summary["apiCalls"]))
    if "errors" in summary:
        errors = summary["errors"] or []
        row("errors", len(errors) if isinstance(errors, list) else errors)
        for err in (errors if isinstance(errors, list) else [])[:MAX_ERRORS]:
            if isinstance(err, dict):
                where = f"{err.get('accountId', '?')}/{err.get('region', '?')}"
                lines.append("    " + _clip(f"{where}  {err.get('code', '')}  {err.get('message', '')}", MAX_WIDTH - 4))
            else:
                lines.append("    " + _clip(str(err), MAX_WIDTH - 4))
        if isinstance(errors, list) and len(errors) > MAX_ERRORS:
            lines.append(f"    ... and {len(errors) - MAX_ERRORS} more")
    others = {k: v for k, v in summary.items() if k not in _KNOWN and k not in _REDUNDANT}
    for key, value in others.items():
        row(key, _clip(_scalar(value), MAX_WIDTH - LABEL_WIDTH - 3))
    if "durationMs" in summary:
        row("duration", _duration(summary["durationMs"]))
    if summary.get("executionArn"):
        row("execution", summary["executionArn"].rsplit(":", 1)[-1])
    return "\n".join(lines)


def format_overall(results: list[tuple[dict[str, Any], float]], start_seconds: float, total_seconds: float) -> str:
    """The closing line of the demo: how many runs succeeded and how long everything took."""
    ok = sum(1 for summary, _ in results if summary.get("status") == "SUCCEEDED")
    runs = ", ".join(f"{s.get('sync', '?')} {secs:.2f} s" for s, secs in results)
    return (
        f"{ok}/{len(results)} runs succeeded ({runs}); sandbox start and deploy {start_seconds:.2f} s; "
        f"total {total_seconds:.2f} s"
    )
