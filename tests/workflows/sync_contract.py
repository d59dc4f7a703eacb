"""What every sync's workflow tests share: the common summary contract and call-counting helpers."""

# The keys every sync's summary carries (docs/design.md, "Summary contract"); each sync adds its own.
COMMON_SUMMARY_KEYS = frozenset(
    {
        "sync",
        "status",
        "executionArn",
        "decision",
        "workItems",
        "regionsSkipped",
        "apiCalls",
        "serversSynced",
        "errors",
        "durationMs",
    }
)


def scan_calls(summary, operations):
    """Calls of the given operations our tasks made in one run (from the summary's own counters)."""
    return sum(summary["apiCalls"].get(op, 0) for op in operations)


def drs_pairs(sb):
    """The (account, region) pairs the DRS simulator was called in."""
    return {(c["accountId"], c["region"]) for c in sb.drs_calls()["calls"] if c["calls"]}
