"""The sandbox's one clock: every wait and every read of time in a sandbox run goes through it.

Two kinds, chosen by `Sandbox(clock=...)`:

* `VirtualClock` (the default): time flows with the wall clock while anything runs, and jumps to the next
  wake-up whenever every thread of the sandbox is waiting. A Retry backoff of 30 s, a throttled token
  bucket refilling for a minute or a Wait state of an hour all happen, in the order and at the rates AWS
  would give them, without anyone waiting for them.
* `RealClock(speed)`: time flows at `speed` times the wall clock and never jumps by itself; for a live
  `serve`, where the next request comes from outside the process and "everyone is waiting" means nothing.

Both move on `advance(seconds)`. Sleepers wait on one condition, so a jump or an `advance` wakes them at
once. A thread counts as waiting when its innermost Python frame is one of the standard library's blocking
waits (a condition, an event, a join, a selector); threads that were running before the clock started
(test runners, their I/O threads) do not count. A thread stuck where that cannot be seen (a plain lock, a
C-level sleep) would hold time back forever, so when no thread has moved (same frame, same instruction)
for `grace` real seconds the clock jumps anyway; a thread that runs keeps moving, and is never overtaken.
"""

from __future__ import annotations

import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import CodeType
from typing import Any

__all__ = ["ClockEvent", "RealClock", "SandboxClock", "VirtualClock", "make_clock"]


class SandboxClock:
    """Time at `speed` times the wall clock, moved on by `advance`; the base of both clocks."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0, not {speed!r}")
        self.speed = float(speed)
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._real_start = time.monotonic()
        self._offset = 0.0
        self._cond = threading.Condition()
        self._deadlines: dict[int, float] = {}  # sleeper token -> the virtual time it wakes at
        self._token = 0
        self.jumped = 0.0  # seconds skipped by jumps and advance(): what the run did not wait for

    # -- reading
    def elapsed(self) -> float:
        """Seconds of this clock since it was made."""
        return (time.monotonic() - self._real_start) * self.speed + self._offset

    def monotonic(self) -> float:
        """As `time.monotonic()`: never goes back, and starts where the system's stood when the clock was
        made (code that takes 0 for "long ago" keeps working)."""
        return self._real_start + self.elapsed()

    def now(self) -> datetime:
        """The current date, timezone-aware UTC."""
        return self._start + timedelta(seconds=self.elapsed())

    def date_at(self, monotonic: float) -> datetime:
        """The date at which `monotonic()` reads (or read, or will read) `monotonic`."""
        return self._start + timedelta(seconds=monotonic - self._real_start)

    def time(self) -> float:
        """Seconds since the epoch, as `time.time()`."""
        return self._start.timestamp() + self.elapsed()

    # -- moving
    def advance(self, seconds: float) -> None:
        """Move time on by `seconds`; whoever sleeps until then wakes now."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._cond:
            self._offset += seconds
            self.jumped += seconds
            self._cond.notify_all()

    def notify(self) -> None:
        """Wake every sleeper to look again (an event they wait on may be set)."""
        with self._cond:
            self._cond.notify_all()

    # -- waiting
    def sleep(self, seconds: float) -> None:
        self.wait_until(None, seconds)

    def wait_until(
        self, done: Callable[[], bool] | None, seconds: float | None, *, poll: float = 0.05, real_limit: float = 0.0
    ) -> bool:
        """Wait until `done()` or for `seconds` of this clock (forever when None); returns `done()`'s last
        answer. Whoever makes `done` true should call `notify()`; sleepers also look every `poll` real
        seconds, so a forgotten notify costs latency, not a hang. `real_limit` (> 0) bounds the real time
        spent here whatever the clock does (a caller's guard against a hang)."""
        deadline = None if seconds is None else self.monotonic() + max(0.0, float(seconds))
        give_up = time.monotonic() + real_limit if real_limit > 0 else None
        with self._cond:
            self._token += 1
            token = self._token
            try:
                while True:
                    if done is not None and done():
                        return True
                    remaining = None if deadline is None else deadline - self.monotonic()
                    if (remaining is not None and remaining <= 0) or (give_up and time.monotonic() > give_up):
                        return False
                    if deadline is not None:
                        self._deadlines[token] = deadline
                    self._sleeping_changed()
                    self._cond.wait(poll if remaining is None else min(poll, remaining / self.speed))
            finally:
                self._deadlines.pop(token, None)

    def _sleeping_changed(self) -> None:
        """Called with the condition held whenever a sleeper (re)starts waiting."""

    def start(self) -> SandboxClock:
        return self

    def stop(self) -> None:
        self.notify()


class RealClock(SandboxClock):
    """The wall clock at `speed` (2.0: a 30 s backoff takes 15 s); jumps only on `advance`."""


class VirtualClock(SandboxClock):
    """Jumps to the next wake-up whenever every thread of the sandbox waits (see the module docstring)."""

    def __init__(self, start: datetime | None = None, *, grace: float = 0.25) -> None:
        super().__init__(1.0, start)
        self.grace = grace
        self._stopped = threading.Event()
        self._kick = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._foreign: set[int] = set()

    def start(self) -> VirtualClock:
        if self._scheduler is None:
            me = threading.get_ident()
            self._foreign = {t.ident for t in threading.enumerate() if t.ident is not None and t.ident != me}
            self._scheduler = threading.Thread(target=self._run, name="sandbox-clock", daemon=True)
            self._scheduler.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._kick.set()
        if self._scheduler is not None and self._scheduler is not threading.current_thread():
            self._scheduler.join(timeout=2)
        self._scheduler = None
        super().stop()

    def _sleeping_changed(self) -> None:
        self._kick.set()

    def _run(self) -> None:
        last: dict[int, tuple[Any, ...]] = {}
        unchanged = 0  # observations in a row in which no thread of the sandbox moved
        pause = 0.001
        while not self._stopped.is_set():
            self._kick.wait(0.05)
            self._kick.clear()
            if not self._deadlines:
                continue
            snapshot = self._snapshot()
            unchanged = unchanged + 1 if snapshot == last else 0
            last = snapshot
            # Counted in observations 5 ms apart, not in seconds: when the OS runs nothing of this
            # process, no thread moves but no observation is made either.
            stuck = unchanged * 0.005 > self.grace
            if (stuck or self._everyone_waits(snapshot)) and self._jump():
                pause, unchanged = 0.001, 0
                continue
            time.sleep(0.005 if unchanged else pause)  # someone runs: look again soon
            pause = min(pause * 2, 0.01)
            self._kick.set()

    def _jump(self) -> bool:
        with self._cond:
            if not self._deadlines:
                return False
            ahead = min(self._deadlines.values()) - self.monotonic()
            if ahead > 0:
                self._offset += ahead
                self.jumped += ahead
            self._cond.notify_all()
            return True

    def _everyone_waits(self, snapshot: dict[int, tuple[Any, ...]]) -> bool:
        """Whether every thread of the sandbox is blocked in a wait, seen twice 1 ms apart."""
        if not all(state[0] == "waits" for state in snapshot.values()):
            return False
        time.sleep(0.001)
        return snapshot == self._snapshot()

    def _snapshot(self) -> dict[int, tuple[Any, ...]]:
        """Where each thread of the sandbox is: ("waits",) or ("runs", code, instruction, CPU time)."""
        me = threading.get_ident()
        out: dict[int, tuple[Any, ...]] = {}
        for ident, frame in sys._current_frames().items():
            if ident != me and ident not in self._foreign:
                out[ident] = ("waits",) if _waits(frame) else ("runs", frame.f_code, frame.f_lasti, _cpu(ident))
        return out


def _cpu(ident: int) -> float:
    """A thread's CPU time where the platform tells it (Linux): a thread in a long C call still moves."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (AttributeError, OSError):
        return 0.0


def _waits(frame: Any) -> bool:
    """Whether a thread is blocked: in a condition wait not yet notified (its waiter lock still held), a
    join of a thread still alive, a selector or an accept; not `Thread.start` waiting for the thread it
    starts (which runs at once, though it shows no frame yet)."""
    code = frame.f_code
    if code not in _WAITING_CODES:
        return False
    if code is _CONDITION_WAIT or code is _JOIN_WAIT:
        lock = frame.f_locals.get("waiter" if code is _CONDITION_WAIT else "lock")
        if lock is None or not lock.locked():
            return False
    caller = frame.f_back
    for _ in range(3):
        if caller is None:
            return True
        if caller.f_code is _THREAD_START:
            return False
        caller = caller.f_back
    return True


def _waiting_codes() -> frozenset[CodeType]:
    """The frames a blocked thread sits in: condition/event/queue waits, joins, selectors, accept."""
    functions: list[Any] = [threading.Condition.wait, socket.socket.accept]
    join_wait = getattr(threading.Thread, "_wait_for_tstate_lock", None)  # 3.11 and 3.12
    if join_wait is not None:
        functions.append(join_wait)
    for name in ("SelectSelector", "PollSelector", "EpollSelector", "KqueueSelector", "DevpollSelector"):
        selector = getattr(selectors, name, None)
        if selector is not None:
            functions.append(selector.select)
    return frozenset(f.__code__ for f in functions if hasattr(f, "__code__"))


_WAITING_CODES = _waiting_codes()
_THREAD_START = threading.Thread.start.__code__
_CONDITION_WAIT = threading.Condition.wait.__code__
_JOIN_WAIT = getattr(getattr(threading.Thread, "_wait_for_tstate_lock", None), "__code__", None)


class ClockEvent(threading.Event):
    """A threading.Event whose timed `wait` counts on the clock and whose `set` wakes clock sleepers."""

    clock: SandboxClock  # set on the subclass `ClockEvent.bound(clock)` makes

    @classmethod
    def bound(cls, clock: SandboxClock) -> type[ClockEvent]:
        return type("ClockEvent", (cls,), {"clock": clock})

    def set(self) -> None:
        super().set()
        self.clock.notify()

    def wait(self, timeout: float | None = None) -> bool:
        return self.clock.wait_until(self.is_set, timeout)


def make_clock(clock: str | SandboxClock, speed: float = 1.0) -> SandboxClock:
    """`"virtual"`, `"real"` (at `speed`) or a clock already made."""
    if isinstance(clock, SandboxClock):
        return clock
    if clock == "virtual":
        if speed != 1.0:
            raise ValueError("speed applies to clock='real'; a virtual clock skips waits instead")
        return VirtualClock()
    if clock == "real":
        return RealClock(speed)
    raise ValueError(f"clock must be 'virtual', 'real' or a SandboxClock, not {clock!r}")
