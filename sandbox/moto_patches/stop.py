"""Step Functions: StopExecution lands, is final and is recorded with its error and cause, as in AWS.

In AWS StopExecution ends a running execution ABORTED, however soon after StartExecution it comes and
whatever its running state does next; the ExecutionAborted event carries the call's error and cause.
moto 5.2.5 differs three times, and ``install_final_stop()`` (returns the undo) mends each:

* A stop before the program has entered its first state is ignored (the program runs on to SUCCEEDED),
  fails with ``AttributeError`` (moto's thread has not built the environment yet), or ends the execution
  ABORTED with no ExecutionAborted event. The stop now waits (at most 5 real seconds) until the program
  has entered its first state or ended, then lands.
* The state that was running goes on: its remaining steps are skipped, so it often fails on what they left
  undone (``'dict' object has no attribute 'region'``), and ``Environment.set_error`` replaces the stop with
  that error: the execution ends FAILED (``States.Runtime``). A handler the sandbox stops at close fails its
  task the same way. A stopped program now stays stopped: a later error or timeout of it or of one of its
  frames is ignored.
* StopExecution's ``error`` and ``cause`` are dropped (the event has empty ones). They are passed on now.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from .patching import installed_once, wrap_methods

__all__ = ["install_final_stop", "is_stopped"]


def is_stopped(env: Any) -> bool:
    """Whether StopExecution has landed on this moto environment (its program is stopped)."""
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    return isinstance(getattr(env, "_program_state", None), ProgramStopped)


def _unless_stopped(original: Callable[..., None]) -> Callable[..., None]:
    def patched(self: Any, *args: Any, **kwargs: Any) -> None:
        with self._state_mutex:  # the mutex set_stop holds: a stop and an error never interleave
            if is_stopped(self):
                return
            original(self, *args, **kwargs)

    return patched


def _entered_first_state(worker: Any) -> bool:
    env = getattr(worker, "env", None)
    if env is None or getattr(env, "_program_state", None) is None:
        return False
    # ExecutionStarted is the first event, the first state's the second; or the program is over already
    return len(env.event_manager._history_event_list) > 1 or not env.is_running()


def _once_started(original: Callable[..., None]) -> Callable[..., None]:
    def stop(self: Any, *args: Any, **kwargs: Any) -> None:
        deadline = time.monotonic() + 5  # real time: moto's own thread is starting the program
        while not _entered_first_state(self) and time.monotonic() < deadline:
            time.sleep(0.001)
        if getattr(self, "env", None) is not None:
            original(self, *args, **kwargs)

    return stop


def _with_error_and_cause(original: Callable[..., Any]) -> Callable[..., Any]:
    def stop_execution(self: Any) -> Any:
        from moto.core.responses import ActionResult

        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        stop_date = dt.datetime.now(tz=dt.UTC)
        execution.stop(stop_date=stop_date, error=self._get_param("error"), cause=self._get_param("cause"))
        return ActionResult({"stopDate": stop_date})

    return stop_execution


@installed_once
def install_final_stop() -> Callable[[], None]:
    """Patch moto's Step Functions (idempotent); returns a function that removes the patches."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.responses import StepFunctionResponse

    patches: list[tuple[Any, str, Callable[[Any], Any]]] = [
        (Environment, "set_error", _unless_stopped),
        (Environment, "set_timed_out", _unless_stopped),
        (ExecutionWorker, "stop", _once_started),
        (StepFunctionResponse, "stop_execution", _with_error_and_cause),
    ]
    return wrap_methods(patches)
