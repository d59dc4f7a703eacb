"""Call counters: every attempt per (account, region, operation), and per outcome (``OK`` or the error code)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["CallCounters"]


class CallCounters:
    """Thread-safe; a lock of its own so counting never waits for the engine's state lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str, str]] = Counter()
        self._outcomes: Counter[tuple[str, str, str, str]] = Counter()

    def count(self, account: str, region: str, operation: str, outcome: str) -> None:
        with self._lock:
            self._calls[(account, region, operation)] += 1
            self._outcomes[(account, region, operation, outcome)] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            calls = [
                {"accountId": a, "region": r, "operation": o, "calls": n}
                for (a, r, o), n in sorted(self._calls.items())
            ]
            outcomes = [
                {"accountId": a, "region": r, "operation": o, "outcome": out, "calls": n}
                for (a, r, o, out), n in sorted(self._outcomes.items())
            ]
            return {"calls": calls, "outcomes": outcomes, "total": sum(self._calls.values())}

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._outcomes.clear()
