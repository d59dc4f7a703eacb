"""Run the repository's Lambda handlers in-process, behind moto's Lambda API.

moto's Step Functions interpreter invokes Task states through a boto3 `lambda` client, which lands in
`moto.awslambda.models.LambdaFunction.invoke` (normally Docker). `LocalLambda.install()` replaces that
method: the call imports `<CodeUri>/<module>.py` and calls the handler with a LambdaContext. A raised
exception becomes Lambda's error envelope `{"errorMessage", "errorType", "stackTrace"}` with
`x-amz-function-error: Unhandled`, so ASL Retry/Catch match the exception's class name as on AWS.
Test code's own `lambda.invoke` reaches the same handlers.

Every handler shares this process: one `os.environ` (the deployer refuses conflicting variables), one
`sys.path` (layer directories are added to it) and warm module state per function, like a warm container.
Each function's module gets a unique name, since every handler file is called `app.py`. Every sandbox
starts cold: modules already imported from the code directories (the layer included) step aside while
it runs, and what the handlers imported is dropped when it closes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clock import RealClock, SandboxClock
from .invocation import CALLER_TIMED_OUT, Call, Invocation, LambdaContext, error_envelope, interrupt
from .timing import ProductTime

_ACTIVE: LocalLambda | None = None  # the runtime the moto patch dispatches to
_caller = threading.local()  # how long the caller of an invoke in this thread waits (API Gateway's limit)


@contextmanager
def responding_within(seconds: float) -> Iterator[None]:
    """Invokes made from this thread in the block wait at most `seconds` on the clock for the response;
    past it they fail with `CallerTimedOut` while the function runs on to its own Timeout."""
    previous = getattr(_caller, "seconds", None)
    _caller.seconds = seconds
    try:
        yield
    finally:
        _caller.seconds = previous


@dataclass
class LocalFunction:
    """One deployed function whose code runs in this process."""

    name: str  # physical function name
    handler: str  # "app.handler" or "pkg.module.handler"
    code_dir: Path | None = None
    inline_code: str | None = None
    logical_id: str = ""
    arn: str = ""
    timeout: int = 3
    memory: int = 128
    region: str = "us-east-1"
    _fn: Callable[..., Any] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def module_name(self) -> str:
        mod = self.handler.rsplit(".", 1)[0].replace(".", "_")
        return f"_sandbox_lambda_{self.logical_id or self.name}_{mod}".replace("-", "_")

    def load(self) -> Callable[..., Any]:
        """Import the handler once (a warm container keeps it)."""
        if self._fn is not None:
            return self._fn
        with self._lock:
            if self._fn is None:
                self._fn = self._import()
        return self._fn

    def _import(self) -> Callable[..., Any]:
        if "." not in self.handler:
            raise ImportError(f"{self.name}: handler {self.handler!r} is not 'module.function'")
        mod_path, func_name = self.handler.rsplit(".", 1)
        if self.code_dir is None:
            module = types.ModuleType(self.module_name)
            _prepare(module)
            sys.modules[self.module_name] = module
            # A template's InlineCode, which Lambda would run too: the sandbox runs it in-process.
            exec(compile(self.inline_code or "", f"<inline {self.name}>", "exec"), module.__dict__)  # noqa: S102  # nosec B102
            return _handler_attr(module, func_name, self.name)
        code_dir = self.code_dir.resolve()
        file = code_dir / (mod_path.replace(".", "/") + ".py")
        if not file.is_file():
            raise ImportError(f"{self.name}: handler module {file} does not exist")
        spec = importlib.util.spec_from_file_location(self.module_name, file)
        if spec is None or spec.loader is None:
            raise ImportError(f"{self.name}: cannot load {file}")
        module = importlib.util.module_from_spec(spec)
        _prepare(module)
        sys.modules[self.module_name] = module
        # Sibling modules ('import helpers') resolve from the code dir while the handler imports; they are
        # then dropped from sys.modules so another function's helpers.py is never shadowed by this one.
        before = set(sys.modules)
        sys.path.insert(0, str(code_dir))
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(self.module_name, None)
            raise
        finally:
            sys.path.remove(str(code_dir))
            for name in set(sys.modules) - before:
                if _is_under(sys.modules.get(name), [code_dir]):
                    del sys.modules[name]
        return _handler_attr(module, func_name, self.name)


def _prepare(module: types.ModuleType) -> None:
    """A handler module reads the sandbox clock (`sandbox.timing`) when a sandbox runtime is installed."""
    if _ACTIVE is not None and _ACTIVE.product_time is not None:
        _ACTIVE.product_time.prepare(module)


def _handler_attr(module: types.ModuleType, func_name: str, fn_name: str) -> Callable[..., Any]:
    handler = getattr(module, func_name, None)
    if not callable(handler):
        raise ImportError(f"{fn_name}: module {module.__name__} has no handler function {func_name!r}")
    return handler


def _is_under(module: Any, dirs: Iterable[Path]) -> bool:
    """Whether a module was loaded from one of the (resolved) directories; a string check, since it
    runs over every module in sys.modules."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return False
    file = os.path.abspath(file)
    return any(file.startswith(os.path.join(str(d), "")) for d in dirs)


__all__ = [
    "CALLER_TIMED_OUT",
    "Invocation",
    "LambdaContext",
    "LocalFunction",
    "LocalLambda",
    "active",
    "error_envelope",
    "responding_within",
]


class LocalLambda:
    """Registry of in-process functions plus the moto patch that dispatches to them."""

    def __init__(
        self, layer_dirs: Iterable[Path] = (), *, clock: SandboxClock | None = None, account: str = "123456789012"
    ) -> None:
        self.functions: dict[str, LocalFunction] = {}
        self.layer_dirs = [Path(d).resolve() for d in layer_dirs]
        self.clock = clock or RealClock()
        self.account = account
        self.invocations: list[Invocation] = []
        self.product_time: ProductTime | None = None
        self._running: dict[str, threading.Thread] = {}  # request id -> the thread running it
        self._running_lock = threading.Lock()
        self._added_paths: list[str] = []
        self._modules_before: set[str] = set()
        self._stashed: dict[str, types.ModuleType] = {}
        self._undo: Callable[[], None] | None = None

    def register(self, fn: LocalFunction) -> None:
        self.functions[fn.name] = fn

    def lookup(self, function: str) -> LocalFunction | None:
        """By name, ARN or partial ARN (`function:name[:qualifier]`)."""
        name = function.split(":function:")[-1].split(":")[0] if ":" in function else function
        return self.functions.get(name)

    # -- lifecycle
    def install(self) -> LocalLambda:
        global _ACTIVE
        from moto.awslambda.models import LambdaFunction

        if _ACTIVE is not None:
            raise RuntimeError("another LocalLambda runtime is installed; close it first")
        # Cold start: modules imported from the code before (say, by a test at collection time, before
        # the stack's environment existed) step aside, so handlers import them afresh; they come back
        # on uninstall, so code outside the sandbox keeps the objects it holds.
        code_dirs = self._code_dirs()
        for name in list(sys.modules):
            if _is_under(sys.modules.get(name), code_dirs):
                self._stashed[name] = sys.modules.pop(name)
        self._modules_before = set(sys.modules)
        for d in self.layer_dirs:
            for candidate in (d / "python", d):  # SAM python layers build into python/
                if candidate.is_dir() and str(candidate) not in sys.path:
                    sys.path.insert(0, str(candidate))
                    self._added_paths.append(str(candidate))
        self.product_time = ProductTime(self.clock, code_dirs).install()
        original = LambdaFunction.invoke
        runtime = self

        def invoke(self_: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
            fn = runtime.lookup(self_.function_name)
            if fn is None:
                return original(self_, body, request_headers, response_headers)
            return runtime._invoke_from_moto(fn, body, request_headers, response_headers)

        setattr(LambdaFunction, "invoke", invoke)  # noqa: B010
        _ACTIVE = self

        def undo() -> None:
            setattr(LambdaFunction, "invoke", original)  # noqa: B010

        self._undo = undo
        return self

    def uninstall(self) -> None:
        """Undo the patch, drop sys.path entries and every module imported from the code dirs."""
        try:
            self.stop_all()
        finally:  # whatever stopping met, the next sandbox of this process must be able to install
            self._release()

    def _release(self) -> None:
        global _ACTIVE
        if self._undo is not None:
            self._undo()
            self._undo = None
        if _ACTIVE is self:
            _ACTIVE = None
        if self.product_time is not None:
            self.product_time.uninstall()
        for p in self._added_paths:
            while p in sys.path:
                sys.path.remove(p)
        self._added_paths.clear()
        for fn in self.functions.values():
            sys.modules.pop(fn.module_name, None)
            fn._fn = None
        code_dirs = self._code_dirs()
        for name in set(sys.modules) - self._modules_before:
            if _is_under(sys.modules.get(name), code_dirs):
                del sys.modules[name]
        sys.modules.update(self._stashed)
        self._stashed.clear()

    def _code_dirs(self) -> list[Path]:
        return self.layer_dirs + [f.code_dir.resolve() for f in self.functions.values() if f.code_dir]

    # -- invoking
    def invoke(
        self, function: str, event: Any, *, respond_within: float | None = None
    ) -> tuple[Any, dict[str, Any] | None]:
        """Call a handler: (result, None) or (None, error envelope). It runs in a thread of its own, like
        a container: past the function's Timeout on the sandbox clock it is stopped and the error is
        `Sandbox.Timedout`, as Lambda reports it. A caller that stops waiting sooner (`respond_within`,
        API Gateway's limit) gets `CallerTimedOut` while the function runs on to its own Timeout."""
        fn = self.lookup(function)
        if fn is None:
            raise KeyError(f"no local function {function!r}")
        call = Call(self, fn, event)
        call.start()
        limit = fn.timeout if respond_within is None else min(respond_within, fn.timeout)
        if not self.clock.wait_until(call.done.is_set, limit):
            if limit < fn.timeout:
                threading.Thread(target=call.finish_within, args=(fn.timeout - limit,), daemon=True).start()
                return None, {"errorType": CALLER_TIMED_OUT, "errorMessage": f"no response in {limit:g} s"}
            call.stop()
        self.invocations.append(call.record())
        return call.result, call.error

    def stop_all(self) -> None:
        """Stop every running invocation (the sandbox is closing)."""
        with self._running_lock:
            threads = list(self._running.values())
        for thread in threads:
            interrupt(thread)
        self.clock.notify()
        for thread in threads:
            thread.join(timeout=2)

    def _invoke_from_moto(self, fn: LocalFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        invocation_type = (request_headers or {}).get("x-amz-invocation-type") or (request_headers or {}).get(
            "X-Amz-Invocation-Type", "RequestResponse"
        )
        if invocation_type == "DryRun":
            return b""
        try:
            event = json.loads(body) if body else {}
        except (TypeError, ValueError):
            response_headers["x-amz-function-error"] = "Unhandled"
            return _dumps(
                {"errorMessage": "Could not parse request body into json", "errorType": "Runtime.UnmarshalError"}
            )
        if invocation_type == "Event":
            threading.Thread(target=self.invoke, args=(fn.name, event), daemon=True).start()
            return b""
        result, error = self.invoke(fn.name, event, respond_within=getattr(_caller, "seconds", None))
        if error is None:
            try:
                return _dumps(result)
            except (TypeError, ValueError) as exc:
                error = {
                    "errorMessage": f"Unable to marshal response: {exc}",
                    "errorType": "Runtime.MarshalError",
                    "requestId": "",
                    "stackTrace": [],
                }
        response_headers["x-amz-function-error"] = "Unhandled"
        return _dumps(error)


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def active() -> LocalLambda | None:
    return _ACTIVE
