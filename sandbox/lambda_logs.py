"""Each invocation's log lines where Lambda puts them: `/aws/lambda/<function>` in moto's CloudWatch Logs.

In Lambda one container runs one invocation at a time, so a handler's logger state (Powertools' appended
keys) and its output belong to that invocation alone. The sandbox runs many invocations at once in one
process, so while it is open:
* every invocation has an `InvocationLog` (bound to its thread and to the pool threads it starts);
* Powertools' formatter keeps its keys per invocation, so one item's `region` never lands on another's lines;
* Powertools Metrics keep their metric, dimension and metadata sets per invocation (in one process they are
  module state every function shares), so one invocation never flushes, or fails to flush, another's;
* records logged during an invocation (any logger) and what it prints are kept as its lines, formatted
  by the handler that would have written them, instead of reaching the caller's stdout;
* at the end of the invocation they are written, between Lambda's START/END/REPORT lines, to a stream of
  the function's log group, stamped with the sandbox clock.
"""

from __future__ import annotations

import builtins
import concurrent.futures
import copy
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_bound = threading.local()


@dataclass
class InvocationLog:
    function: str
    request_id: str
    stream: str
    lines: list[tuple[float, str]] = field(default_factory=list)  # (epoch seconds, line)
    powertools: dict[tuple[int, str], Any] = field(default_factory=dict)  # (id(object), attribute) -> its value
    clock_time: Callable[[], float] = field(default=lambda: 0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, line: str) -> None:
        with self._lock:
            self.lines.append((self.clock_time(), line.rstrip("\n")))


def current() -> InvocationLog | None:
    return getattr(_bound, "invocation", None)


@contextmanager
def bound(invocation: InvocationLog | None) -> Iterator[None]:
    previous = current()
    _bound.invocation = invocation
    try:
        yield
    finally:
        _bound.invocation = previous


_outside = threading.local()


def _powertools_state() -> dict[tuple[int, str], Any]:
    """What Powertools keeps per invocation here (its formatter's keys, its metric sets): the invocation's,
    or the thread's outside one."""
    invocation = current()
    if invocation is not None:
        return invocation.powertools
    if not hasattr(_outside, "powertools"):
        _outside.powertools = {}
    return _outside.powertools


class _PerInvocation:
    """The formatter's `log_format`, one dict per invocation (per thread outside invocations)."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        store, key = _powertools_state(), (id(obj), "log_format")
        if key not in store:  # a fresh invocation starts from the formatter's configured keys
            fresh = dict.fromkeys(obj.log_record_order)
            fresh.update(getattr(obj, "keys_combined", {}))
            store[key] = fresh
        return store[key]

    def __set__(self, obj: Any, value: dict[str, Any]) -> None:
        _powertools_state()[(id(obj), "log_format")] = value


class _MetricState:
    """An attribute of Powertools' EMF metrics provider, kept per invocation (per thread outside one). Each
    invocation starts from a copy of what the provider was set up with (its default dimensions); what it adds,
    flushes and clears is its own."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        store, key = _powertools_state(), (id(obj), self.name)
        if key not in store:
            store[key] = copy.deepcopy(obj.__dict__.get(self.name))
        return store[key]

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value  # the set-up (also what the provider keeps once the sandbox is closed)
        _powertools_state()[(id(obj), self.name)] = value


METRIC_STATE = ("metric_set", "dimension_set", "metadata_set", "dimension_sets")


def _print_to_log(original: Callable[..., Any]) -> Callable[..., Any]:
    """print() during an invocation (Powertools Metrics prints its EMF lines) writes a log line, as the
    Lambda runtime turns a function's stdout into log events."""

    def print_(
        *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
    ) -> None:
        invocation = current()
        if invocation is None or file not in (None, sys.stdout, sys.__stdout__):
            return original(*args, sep=sep, end=end, file=file, flush=flush)
        text = (" " if sep is None else sep).join(str(a) for a in args)
        for line in text.splitlines():
            if line.strip():
                invocation.add(line)
        return None

    return print_


def _capture_records(original: Callable[..., Any]) -> Callable[..., Any]:
    def call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
        invocation = current()
        if invocation is None:
            return original(self, record)
        logger: logging.Logger | None = self
        found = False
        while logger is not None and not found:  # the nearest handlers only: the caller's root handlers
            for handler in logger.handlers:  # (a test runner's) are not the function's
                found = True
                if record.levelno >= handler.level:
                    invocation.add(handler.format(record))
            logger = logger.parent if logger.propagate else None
        if not found and record.levelno >= logging.WARNING:  # the Lambda runtime's own format
            invocation.add(f"[{record.levelname}]\t{invocation.request_id}\t{record.getMessage()}")
        return None

    return call_handlers


def _carry_into_pools(original: Callable[..., Any]) -> Callable[..., Any]:
    """A pool thread started by a handler works for that invocation (its keys, its lines), as in Lambda."""

    def submit(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        invocation = current()
        if invocation is None:
            return original(self, fn, *args, **kwargs)

        def run(*a: Any, **k: Any) -> Any:
            with bound(invocation):
                return fn(*a, **k)

        return original(self, run, *args, **kwargs)

    return submit


def _remover(owner: Any, name: str) -> Callable[[], None]:
    return lambda: delattr(owner, name)


def _restore(owner: Any, name: str, original: Any) -> Callable[[], None]:
    return lambda: setattr(owner, name, original)


def install() -> Callable[[], None]:
    """Patch Powertools, logging and stdout as the module docstring says; returns the undo."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    undo: list[Callable[[], None]] = []
    cls = LambdaPowertoolsFormatter
    cls.log_format = _PerInvocation()  # type: ignore[assignment]
    undo.append(lambda: delattr(cls, "log_format"))
    for name in METRIC_STATE:
        setattr(AmazonCloudWatchEMFProvider, name, _MetricState(name))
        undo.append(_remover(AmazonCloudWatchEMFProvider, name))
    for owner, name, wrap in (
        (logging.Logger, "callHandlers", _capture_records),
        (concurrent.futures.ThreadPoolExecutor, "submit", _carry_into_pools),
    ):
        original = getattr(owner, name)
        setattr(owner, name, wrap(original))
        undo.append(_restore(owner, name, original))
    original_print = builtins.print
    builtins.print = _print_to_log(original_print)
    undo.append(_restore(builtins, "print", original_print))

    def uninstall() -> None:
        while undo:
            undo.pop()()

    return uninstall


def write_to_cloudwatch(invocation: InvocationLog, account: str, region: str, report: str) -> None:
    """The invocation's lines into `/aws/lambda/<function>`, stream `invocation.stream`, with START/END/REPORT."""
    from moto.logs.models import logs_backends

    backend = logs_backends[account][region]
    group_name = f"/aws/lambda/{invocation.function}"
    if group_name not in backend.groups:
        backend.create_log_group(group_name, {})
    group = backend.groups[group_name]
    if invocation.stream not in group.streams:
        group.create_log_stream(invocation.stream)
    with invocation._lock:
        lines = list(invocation.lines)
    start = lines[0][0] if lines else invocation.clock_time()
    end = invocation.clock_time()
    rid = invocation.request_id
    framed = [(start, f"START RequestId: {rid} Version: $LATEST"), *lines]
    framed += [(end, f"END RequestId: {rid}"), (end, f"REPORT RequestId: {rid}\t{report}")]
    # LogGroup's own put: the backend's refuses events stamped 2 h past the wall clock, which a virtual
    # clock that skipped a long wait reaches.
    group.put_log_events(
        invocation.stream, [{"timestamp": int(ts * 1000), "message": line} for ts, line in sorted_by_time(framed)]
    )


def sorted_by_time(lines: list[tuple[float, str]]) -> list[tuple[float, str]]:
    return sorted(lines, key=lambda pair: pair[0])
