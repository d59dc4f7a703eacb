"""Every time the simulator reads or spends: wall-clock dates, the token buckets' monotonic clock, latency sleeps.

Nothing else in :mod:`sandbox.drs` calls :mod:`time` or ``datetime.now``, so one clock driving the whole
simulator replaces these three functions and nothing more.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["monotonic", "now", "sleep"]


def now() -> datetime:
    """The current date (timezone-aware UTC): creation and launch dates, ``lastSeen``, job times."""
    return datetime.now(UTC)


def monotonic() -> float:
    """Seconds on a clock that never goes back (throttling buckets refill by it)."""
    return time.monotonic()


def sleep(seconds: float) -> None:
    """Spend simulated latency (faults and fleet ``latencyMs``)."""
    time.sleep(seconds)
