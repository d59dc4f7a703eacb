"""Readable text for sync summaries (the demo and `drs-fleet-sync sandbox run` without --json)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from fleet_sync.run.summary import DERIVED, Summary

# The summary contract is the layer's model: the fields with a title get a line of their own (in the model's
# order), the derived ones (another field says them already) none; anything else is listed by its name.
_LABELS = {name: info.title for name, info in Summary.model_fields.items() if info.title}
_REDUNDANT = {name for name, info in Summary.model_fields.items() if info.json_schema_extra == DERIVED}
_HEADER = ("sync", "status", "executionArn", "error", "cause")  # the first lines and the last one
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


def _errors(errors: Any) -> list[str]:
    """The count, then the first few errors, each on its own line."""
    listed = errors if isinstance(errors, list) else []
    lines = []
    for err in listed[:MAX_ERRORS]:
        if isinstance(err, dict):
            where = f"{err.get('accountId', '?')}/{err.get('region', '?')}"
            lines.append("    " + _clip(f"{where}  {err.get('code', '')}  {err.get('message', '')}", MAX_WIDTH - 4))
        else:
            lines.append("    " + _clip(str(err), MAX_WIDTH - 4))
    if len(listed) > MAX_ERRORS:
        lines.append(f"    ... and {len(listed) - MAX_ERRORS} more")
    return lines


# How a titled field's value is shown (the others as they are).
_RENDER: dict[str, Callable[[Any], Any]] = {
    "workItems": _count_and_list,
    "regionsSkipped": _count_and_list,
    "apiCalls": _api_calls,
    "errors": lambda errors: len(errors) if isinstance(errors, list) else errors,
    "durationMs": _duration,
}


def format_summary(summary: dict[str, Any]) -> str:
    """A few aligned lines for one sync run."""
    lines = [f"{summary.get('sync', '?')}  {summary.get('status', '?')}"]

    def row(label: str, value: Any) -> None:
        lines.append(f"  {label:<{LABEL_WIDTH}} {value}")

    if summary.get("status") not in (None, "SUCCEEDED"):
        row("error", summary.get("error", ""))
        row("cause", _clip(summary.get("cause", ""), MAX_WIDTH - LABEL_WIDTH - 3))
    titled = [name for name in _LABELS if name in summary and name != "durationMs"]
    for name in titled:
        row(_LABELS[name], _RENDER.get(name, str)(summary[name]))
        if name == "errors":
            lines += _errors(summary[name])
    for key, value in summary.items():
        if key not in _LABELS and key not in _REDUNDANT and key not in _HEADER:
            row(key, _clip(_scalar(value), MAX_WIDTH - LABEL_WIDTH - 3))
    if "durationMs" in summary:
        row(_LABELS["durationMs"], _duration(summary["durationMs"]))
    if summary.get("executionArn"):
        row("execution", summary["executionArn"].rsplit(":", 1)[-1])
    return "\n".join(lines)


# ------------------------------------------------------------------ the demo: one table, then the point

_TABLE = "{run:<22} {status:<10} {decision:<16} {pairs:>9} {calls:>9} {errors:>6}  {outcome:<9} {time:>8}"


def format_runs(results: list[tuple[str, dict[str, Any], float]]) -> str:
    """One line per run: (label, summary, wall seconds)."""
    lines = [
        _TABLE.format(
            run="run",
            status="status",
            decision="decision",
            pairs="pairs",
            calls="API calls",
            errors="errors",
            outcome="outcome",
            time="time",
        )
    ]
    for label, s, secs in results:
        pairs = f"{s['workItemCount']}/{s['pairsTotal']}" if "pairsTotal" in s and "workItemCount" in s else "-"
        errors = s.get("errorCount", len(s["errors"]) if isinstance(s.get("errors"), list) else "-")
        lines.append(
            _TABLE.format(
                run=_clip(label, 22),
                status=s.get("status", "?"),
                decision=s.get("decision", "-"),
                pairs=pairs,
                calls=s.get("apiCallTotal", "-"),
                errors=errors,
                outcome=s.get("outcome", "-"),
                time=f"{secs:.1f} s",
            )
        )
    return "\n".join(lines)


def format_saving(all_regions: dict[str, Any], filtered: dict[str, Any]) -> str:
    """What filtering saved: the pairs the filtered run scanned, its calls against the all-regions run's."""
    full, calls = all_regions.get("apiCallTotal", 0), filtered.get("apiCallTotal", 0)
    saved = 100.0 * (full - calls) / full if full else 0.0
    by_account: dict[str, list[str]] = defaultdict(list)
    for item in filtered.get("workItems", []):
        by_account[str(item.get("accountId"))].append(str(item.get("region")))
    lines = [
        f"The filtered {filtered.get('sync')} run scanned {filtered.get('workItemCount', 0)} of "
        f"{filtered.get('pairsTotal', 0)} (account, region) pairs:"
    ]
    lines += [f"  {account}: {', '.join(sorted(regions))}" for account, regions in sorted(by_account.items())]
    lines.append(
        f"API calls: {calls} against {full} for the all-regions scan before it ({saved:.0f}% saved); "
        f"{filtered.get('pairsSkipped', 0)} pairs skipped."
    )
    return "\n".join(lines)


def format_errors(results: list[tuple[str, dict[str, Any], float]], limit: int = MAX_ERRORS) -> list[str]:
    """The first few failed items of all runs, one line each."""
    found = [(label, err) for label, s, _ in results for err in s.get("errors", []) if isinstance(err, dict)]
    lines = [
        "    "
        + _clip(
            f"{label:<22} {err.get('accountId', '?')}/{err.get('region', '?')}  {err.get('code', '')}  "
            f"{err.get('message', '')}",
            MAX_WIDTH - 4,
        )
        for label, err in found[:limit]
    ]
    if len(found) > limit:
        lines.append(f"    ... and {len(found) - limit} more (--json has them all)")
    return lines
