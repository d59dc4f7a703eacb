"""The product's reads of time, on the sandbox clock, without a line of the product changed.

Every module the sandbox imports from the product's code (the layer and each function's directory) runs
with its own `__builtins__`, whose `__import__` hands it stand-ins for `time` and `datetime`:
* `time`: `time()`, `time_ns()`, `monotonic()`, `monotonic_ns()`, `perf_counter()` and `sleep()` read and
  spend the sandbox clock; everything else is the real module;
* `datetime`: the `datetime` class is a subclass whose `now()`, `utcnow()` and `today()` read the clock;
  `isinstance(x, datetime)` and `issubclass` answer as for the real class, so annotations, isinstance checks
  and values built by libraries (boto3's dates) work unchanged.

So TTLs (`expiresAt`), ages, cache lifetimes, durations and the product's own pauses follow the clock:
a virtual clock that jumps an hour makes a stored row an hour older, as it would be on AWS.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import sys
import time as _time
import types
from collections.abc import Iterable
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from typing import Any

from .clock import SandboxClock

__all__ = ["ProductTime"]


class _DatetimeMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, _dt.datetime)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, _dt.datetime)


def _time_module(clock: SandboxClock) -> types.ModuleType:
    shim = types.ModuleType("time", "the time module, reading the sandbox clock")
    shim.__dict__.update({k: v for k, v in vars(_time).items() if not k.startswith("__")})
    shim.__dict__.update(
        time=clock.time,
        time_ns=lambda: int(clock.time() * 1e9),
        monotonic=clock.monotonic,
        monotonic_ns=lambda: int(clock.monotonic() * 1e9),
        perf_counter=clock.monotonic,
        sleep=clock.sleep,
    )
    return shim


def _datetime_module(clock: SandboxClock) -> types.ModuleType:
    class datetime(_dt.datetime, metaclass=_DatetimeMeta):  # stands in for datetime.datetime
        @classmethod
        def now(cls, tz: _dt.tzinfo | None = None) -> Any:
            current = clock.now()
            return current.astimezone(tz) if tz is not None else current.astimezone().replace(tzinfo=None)

        @classmethod
        def utcnow(cls) -> Any:
            return clock.now().replace(tzinfo=None)

        @classmethod
        def today(cls) -> Any:
            return cls.now()

    datetime.__module__ = "datetime"
    shim = types.ModuleType("datetime", "the datetime module, reading the sandbox clock")
    shim.__dict__.update({k: v for k, v in vars(_dt).items() if not k.startswith("__")})
    shim.datetime = datetime  # type: ignore[attr-defined]
    return shim


class ProductTime(MetaPathFinder):
    """Installed on sys.meta_path while a sandbox is open: modules found under `code_dirs` import the
    clock's `time` and `datetime` (see the module docstring)."""

    def __init__(self, clock: SandboxClock, code_dirs: Iterable[Path]) -> None:
        self.code_dirs = [str(Path(d).resolve()) for d in code_dirs]
        stand_ins = {"time": _time_module(clock), "datetime": _datetime_module(clock)}
        real_import = builtins.__import__

        def clock_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
            if level == 0 and name in stand_ins:
                return stand_ins[name]
            return real_import(name, globals, locals, fromlist, level)

        self.builtins: dict[str, Any] = {**vars(builtins), "__import__": clock_import}

    def covers(self, path: str | None) -> bool:
        return bool(path) and any(str(path).startswith(d + "/") for d in self.code_dirs)

    def prepare(self, module: types.ModuleType) -> None:
        """Give a module about to run the clock's imports (the sandbox's own handler loader calls this)."""
        module.__dict__["__builtins__"] = self.builtins

    # -- the import hook
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        spec = PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not self.covers(spec.origin):
            return None
        spec.loader = _PreparingLoader(spec.loader, self)
        return spec

    def install(self) -> ProductTime:
        sys.meta_path.insert(0, self)
        return self

    def uninstall(self) -> None:
        while self in sys.meta_path:
            sys.meta_path.remove(self)


class _PreparingLoader(Loader):
    def __init__(self, inner: Any, hook: ProductTime) -> None:
        self.inner = inner
        self.hook = hook

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self.hook.prepare(module)
        self.inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code, is_package ... for tools that ask
        return getattr(self.inner, name)
