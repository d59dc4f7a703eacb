"""Every wait of moto's Step Functions engine and of botocore, on the sandbox clock, and recorded.

The waits of a sandbox run, and where they happen (module-level names of moto 5.2.5 and botocore, both
pinned exactly):
* ASL `Retry` backoff: the interpreter calls `time.sleep(interval)` in `retrier_decl`;
* ASL `Wait` states: `WaitFunction._wait_interval` waits on the execution's event;
* a Task's `TimeoutSeconds` (States.Timeout): `execute_state` waits on a `threading.Event` with a timeout;
* botocore's retries: standard and legacy modes sleep in `botocore.endpoint`; adaptive mode also waits in
  its client-side token bucket and reads time from `bucket.Clock`.

`ClockWaits(clock)` makes each of them wait on `clock` (`sandbox.clock`), so a virtual clock skips them and a
real one takes them at its speed, and records what was asked for, so tests can assert backoff
(`retry_delays == [1.0, 2.0]`).
"""

from __future__ import annotations

import threading
import time
import types
from typing import Any

from .clock import ClockEvent, SandboxClock


class ClockWaits:
    """Context manager: `with ClockWaits(clock) as waits: ...; waits.retry_delays`."""

    def __init__(self, clock: SandboxClock, *, sdk: bool = True) -> None:
        self.clock = clock
        self.sdk = sdk
        self.retry_delays: list[float] = []  # ASL Retry intervals, as computed by the interpreter
        self.wait_seconds: list[float] = []  # ASL Wait state durations
        self.sdk_retry_delays: list[float] = []  # botocore retry backoffs and token-bucket waits
        self._lock = threading.Lock()
        self._undo: list[Any] = []

    def _record(self, target: list[float], seconds: float) -> float:
        with self._lock:
            target.append(float(seconds))
        return max(0.0, float(seconds))

    def clear(self) -> None:
        with self._lock:
            self.retry_delays.clear()
            self.wait_seconds.clear()
            self.sdk_retry_delays.clear()

    def __enter__(self) -> ClockWaits:
        try:
            self._patch_asl()
            if self.sdk:
                self._patch_botocore()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        while self._undo:
            self._undo.pop()()

    def _replace(self, owner: Any, name: str, value: Any) -> None:
        original = getattr(owner, name)
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, original))

    # -- moto's ASL interpreter
    def _patch_asl(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.exec import execute_state
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

        clock = self.clock
        self._replace(retrier_decl, "time", _TimeShim(clock, lambda s: clock.sleep(self._record(self.retry_delays, s))))
        self._replace(execute_state, "threading", _ThreadingShim(ClockEvent.bound(clock)))

        def _wait_interval(self_: Any, env: Any, wait_seconds: float) -> None:
            seconds = self._record(self.wait_seconds, wait_seconds)
            clock.wait_until(env.program_state_event.is_set, seconds)  # set when the execution is stopped

        self._replace(wait_function.WaitFunction, "_wait_interval", _wait_interval)

    # -- botocore
    def _patch_botocore(self) -> None:
        from botocore import endpoint
        from botocore.retries import bucket

        clock = self.clock
        self._replace(endpoint, "time", _TimeShim(clock, lambda s: clock.sleep(self._record(self.sdk_retry_delays, s))))
        self._replace(bucket.Clock, "sleep", lambda self_, amount: clock.sleep(amount))
        self._replace(bucket.Clock, "current_time", lambda self_: clock.time())
        self._replace(bucket.TokenBucket, "acquire", self._acquire())

    def _acquire(self) -> Any:
        """TokenBucket.acquire that waits for its refill on the clock (botocore waits on a condition)."""
        outer = self

        def acquire(self_: Any, amount: int = 1, block: bool = True) -> bool:
            while True:
                with self_._new_fill_rate_condition:
                    self_._refill()
                    if amount <= self_._current_capacity:
                        self_._current_capacity -= amount
                        return True
                    if not block:
                        from botocore.exceptions import CapacityNotAvailableError

                        raise CapacityNotAvailableError()
                    needed = self_._sleep_amount(amount)
                outer.clock.sleep(outer._record(outer.sdk_retry_delays, needed))

        return acquire


class _TimeShim(types.SimpleNamespace):
    """Stands in for the `time` module inside one patched module: sleep() and the clocks read the sandbox's."""

    def __init__(self, clock: SandboxClock, sleep: Any) -> None:
        super().__init__(sleep=sleep, time=clock.time, monotonic=clock.monotonic)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class _ThreadingShim(types.SimpleNamespace):
    """Stands in for `threading` inside one patched module: its Events wait on the clock."""

    def __init__(self, event: type[threading.Event]) -> None:
        super().__init__(Event=event)

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)
