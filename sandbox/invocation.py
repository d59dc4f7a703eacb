"""One invocation of an in-process function: its thread (a container), its context, its log, its outcome."""

from __future__ import annotations

import ctypes
import logging
import threading
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

from . import lambda_logs
from .clock import ClockEvent, RealClock

log = logging.getLogger(__name__)


class LambdaContext:
    """The context object the Python runtime passes to a handler; its deadline is on the sandbox clock."""

    def __init__(self, fn: Any, request_id: str | None = None, clock: Any = None) -> None:
        self._clock = clock or RealClock()
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.arn
        self.memory_limit_in_mb = fn.memory
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = self._clock.now().strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = self._clock.monotonic() + fn.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.monotonic()) * 1000))


@dataclass
class Invocation:
    """One handler call, kept for tests and the demo."""

    function: str
    request_id: str
    duration_ms: float
    error_type: str | None


def error_envelope(exc: BaseException, request_id: str = "") -> dict[str, Any]:
    """The payload the Python runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


CALLER_TIMED_OUT = "CallerTimedOut"


class _Stopped(BaseException):
    """Raised inside a handler's thread to stop it, as Lambda stops a timed-out container."""


def interrupt(thread: threading.Thread) -> None:
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Stopped))


class Call:
    """One invocation: its thread, its log, its outcome."""

    def __init__(self, runtime: Any, fn: Any, event: Any) -> None:
        self.runtime = runtime
        self.fn = fn
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.context = LambdaContext(fn, self.request_id, runtime.clock)
        self.log = lambda_logs.InvocationLog(
            fn.name, self.request_id, self.context.log_stream_name, clock_time=runtime.clock.time
        )
        self.done = ClockEvent.bound(runtime.clock)()
        self.result: Any = None
        self.error: dict[str, Any] | None = None
        self.started = runtime.clock.monotonic()
        self.ended: float | None = None
        self.thread = threading.Thread(target=self._run, name=f"lambda {fn.name} {self.request_id}", daemon=True)

    def start(self) -> None:
        with self.runtime._running_lock:
            self.runtime._running[self.request_id] = self.thread
        self.thread.start()

    def _run(self) -> None:
        try:
            with lambda_logs.bound(self.log):
                self.result = self.fn.load()(self.event, self.context)
        except _Stopped:
            pass
        except Exception as exc:
            self.error = error_envelope(exc, self.request_id)
        finally:
            self._end()

    def _end(self) -> None:
        with self.runtime._running_lock:
            if self.runtime._running.pop(self.request_id, None) is None:
                return
        self.ended = self.runtime.clock.monotonic()
        duration = (self.ended - self.started) * 1000
        report = f"Duration: {duration:.2f} ms\tBilled Duration: {max(1, int(duration + 0.999))} ms"
        report += f"\tMemory Size: {self.fn.memory} MB"
        try:
            lambda_logs.write_to_cloudwatch(self.log, self.runtime.account, self.fn.region, report)
        except Exception:  # a sandbox closing under a running function: its log has nowhere to go
            log.debug("log of %s not written", self.request_id, exc_info=True)
        self.done.set()

    def stop(self) -> None:
        """The function ran past its Timeout: stop it and report as Lambda does."""
        self.result = None
        self.error = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {self.request_id} Error: Task timed out after {self.fn.timeout:.2f} seconds",
        }
        self.log.add(
            f"{self.runtime.clock.now():%Y-%m-%dT%H:%M:%S.%fZ} {self.request_id} Task timed out after "
            f"{self.fn.timeout:.2f} seconds"
        )
        interrupt(self.thread)
        self.runtime.clock.notify()
        self.thread.join(timeout=2)
        self._end()

    def finish_within(self, seconds: float) -> None:
        """The caller stopped waiting: let the function run on to its own Timeout, then record it."""
        if not self.runtime.clock.wait_until(self.done.is_set, seconds):
            self.stop()
        self.runtime.invocations.append(self.record())

    def record(self) -> Invocation:
        ended = self.ended if self.ended is not None else self.runtime.clock.monotonic()
        return Invocation(
            self.fn.name,
            self.request_id,
            (ended - self.started) * 1000,
            self.error["errorType"] if self.error else None,
        )
