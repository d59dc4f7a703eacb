"""What every sync's workflow tests share: the summary contract (the layer's summary models) and
call-counting helpers."""

from typing import Any

from fleet_sync.run.registry import sync_spec
from fleet_sync.run.summary import Summary


def checked_summary(summary: dict[str, Any]) -> Summary:
    """A run's summary validated with its sync's summary model (docs/design.md, "Summary contract"): every field
    it always carries is there, each of its type, and nothing the contract does not name."""
    model = sync_spec(summary["sync"]).summary_model
    always = {name for name, info in model.model_fields.items() if info.is_required() or info.default is not None}
    missing = always - set(summary)
    assert not missing, f"the summary lacks {sorted(missing)}"
    return model.model_validate(summary)


def scan_calls(summary, operations):
    """Calls of the given operations our tasks made in one run (from the summary's own counters)."""
    return sum(summary["apiCalls"].get(op, 0) for op in operations)


def drs_pairs(sb):
    """The (account, region) pairs the DRS simulator was called in."""
    return {(c["accountId"], c["region"]) for c in sb.drs_calls()["calls"] if c["calls"]}
