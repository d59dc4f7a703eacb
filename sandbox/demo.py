"""What `sandbox demo` and `sandbox serve --demo` run and print: the inventory twice (the all-regions run, then
the filtered one), every other sync, one table row per run, and what filtering saved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Results = list[tuple[str, dict[str, Any], float]]


def demo_plan(sb: Any) -> list[tuple[str, str]]:
    """(label, sync) in the order the demo runs them: the inventory twice (its first run has no region status
    yet and scans everything; the second is the filtered run), then every other sync."""
    names = sb.syncs or list(sb.state_machines)
    if "inventory" not in names:
        return [(name, name) for name in names]
    rest = [(name, name) for name in names if name != "inventory"]
    return [("inventory (first run)", "inventory"), ("inventory (filtered)", "inventory"), *rest]


def run_demo(sb: Any, say: Callable[[str], None]) -> Results:
    """Run the demo's syncs, saying one table row as each finishes."""
    import time

    from .summary import format_runs

    results = []
    say(format_runs([]))
    for label, name in demo_plan(sb):
        started = time.perf_counter()
        summary = sb.run_sync(name)
        results.append((label, summary, time.perf_counter() - started))
        say(format_runs(results[-1:]).split("\n", 1)[1])
    return results


def demo_report(results: Results) -> str:
    """What the filtered inventory run saved against the all-regions one, and the first failed items."""
    from .summary import format_errors, format_saving

    by_label = {label: summary for label, summary, _ in results}
    first, filtered = by_label.get("inventory (first run)"), by_label.get("inventory (filtered)")
    parts = []
    if first and filtered and first.get("status") == filtered.get("status") == "SUCCEEDED":
        parts.append("\n" + format_saving(first, filtered))
    errors = format_errors(results)
    if errors:
        parts.append("\nfailed items (first few; a failure in one pair never stops the others):")
        parts.append("\n".join(errors))
    return "\n".join(parts)
