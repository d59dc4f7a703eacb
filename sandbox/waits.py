"""Scale down the sleeps of a run without changing the ASL, and record what was asked for.

Three kinds of waiting happen in a sandbox run:
* ASL `Retry` backoff: moto's interpreter calls `time.sleep(interval)` in `retrier_decl`;
* ASL `Wait` states: `WaitFunction._wait_interval` waits on the execution's event;
* botocore's own retries (standard/legacy mode sleep in `botocore.endpoint`; adaptive mode also waits
  in its client-side token bucket).

`FastWaits(scale)` multiplies each by `scale` (0 = do not sleep) and records the requested delays, so
tests can assert backoff (`retry_delays == [1.0, 2.0]`) without waiting for it. It patches module-level
names of moto 5.2.5 and botocore; both are pinned exactly.
"""

from __future__ import annotations

import threading
import time
import types
from typing import Any


class FastWaits:
    """Context manager: `with FastWaits(0.0) as waits: ...; waits.retry_delays`."""

    def __init__(self, scale: float = 0.0, *, sdk: bool = True) -> None:
        if scale < 0:
            raise ValueError("scale must be >= 0")
        self.scale = scale
        self.sdk = sdk
        self.retry_delays: list[float] = []  # ASL Retry intervals, as computed by the interpreter
        self.wait_seconds: list[float] = []  # ASL Wait state durations
        self.sdk_retry_delays: list[float] = []  # botocore retry backoffs and token-bucket waits
        self._lock = threading.Lock()
        self._undo: list[Any] = []

    def _record(self, target: list[float], seconds: float) -> float:
        with self._lock:
            target.append(float(seconds))
        return max(0.0, float(seconds) * self.scale)

    def clear(self) -> None:
        with self._lock:
            self.retry_delays.clear()
            self.wait_seconds.clear()
            self.sdk_retry_delays.clear()

    def __enter__(self) -> FastWaits:
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

    # -- moto's ASL interpreter
    def _patch_asl(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

        outer = self
        original_time = retrier_decl.time
        retrier_decl.time = _TimeShim(  # type: ignore[assignment]
            lambda s: time.sleep(outer._record(outer.retry_delays, s))
        )
        self._undo.append(lambda: setattr(retrier_decl, "time", original_time))

        original_wait = wait_function.WaitFunction._wait_interval

        def _wait_interval(self_: Any, env: Any, wait_seconds: float) -> None:
            scaled = outer._record(outer.wait_seconds, wait_seconds)
            if scaled > 0:
                env.program_state_event.wait(scaled)  # set when the execution is stopped

        setattr(wait_function.WaitFunction, "_wait_interval", _wait_interval)  # noqa: B010
        self._undo.append(lambda: setattr(wait_function.WaitFunction, "_wait_interval", original_wait))

    # -- botocore
    def _patch_botocore(self) -> None:
        from botocore import endpoint
        from botocore.retries import bucket

        outer = self
        original_time = endpoint.time
        endpoint.time = _TimeShim(lambda s: time.sleep(outer._record(outer.sdk_retry_delays, s)))
        self._undo.append(lambda: setattr(endpoint, "time", original_time))

        original_acquire = bucket.TokenBucket.acquire

        def acquire(self_: Any, amount: int = 1, block: bool = True) -> bool:
            with self_._new_fill_rate_condition:
                self_._refill()
                if amount <= self_._current_capacity:
                    self_._current_capacity -= amount
                    return True
                if not block:
                    from botocore.exceptions import CapacityNotAvailableError

                    raise CapacityNotAvailableError()
                needed = self_._sleep_amount(amount)
            time.sleep(outer._record(outer.sdk_retry_delays, needed))
            with self_._new_fill_rate_condition:
                self_._refill()
                self_._current_capacity = max(0, self_._current_capacity - amount)
            return True

        bucket.TokenBucket.acquire = acquire
        self._undo.append(lambda: setattr(bucket.TokenBucket, "acquire", original_acquire))


class _TimeShim(types.SimpleNamespace):
    """Stands in for the `time` module inside one patched module: only sleep() changes."""

    def __init__(self, sleep: Any) -> None:
        super().__init__(sleep=sleep)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)
