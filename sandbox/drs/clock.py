"""Every time the simulator reads or spends: wall-clock dates, the token buckets' monotonic clock, latency sleeps.

Nothing else in :mod:`sandbox.drs` calls :mod:`time` or ``datetime.now``: the three functions below read
whichever clock is installed, so the sandbox drives the whole simulator (dates, throttling buckets, latency,
job progress) from one clock. The system clock is the default; :class:`ManualClock` is a clock that moves
only when told to (a sleep moves it at once), for tests that need time to pass without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "current", "install", "installed", "monotonic", "now", "sleep"]


class Clock(Protocol):
    def now(self) -> datetime: ...
    def monotonic(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ManualClock:
    """Time that passes only by :meth:`advance` or :meth:`sleep` (which returns at once)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime.now(UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._elapsed += seconds


_current: Clock = SystemClock()


def current() -> Clock:
    return _current


def install(clock: Clock) -> Clock:
    """Make ``clock`` the simulator's clock; returns the one it replaces."""
    global _current
    previous, _current = _current, clock
    return previous


@contextmanager
def installed(clock: Clock) -> Iterator[Clock]:
    previous = install(clock)
    try:
        yield clock
    finally:
        install(previous)


def now() -> datetime:
    """The current date (timezone-aware UTC): creation and launch dates, ``lastSeen``, job times."""
    return _current.now()


def monotonic() -> float:
    """Seconds on a clock that never goes back (throttling buckets refill by it)."""
    return _current.monotonic()


def sleep(seconds: float) -> None:
    """Spend simulated latency (faults and fleet ``latencyMs``)."""
    _current.sleep(seconds)
