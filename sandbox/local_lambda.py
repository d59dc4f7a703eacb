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
import time
import traceback
import types
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ACTIVE: LocalLambda | None = None  # the runtime the moto patch dispatches to


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


class LambdaContext:
    """The context object the Python runtime passes to a handler."""

    def __init__(self, fn: LocalFunction, request_id: str | None = None) -> None:
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.arn
        self.memory_limit_in_mb = fn.memory
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + fn.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


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


class LocalLambda:
    """Registry of in-process functions plus the moto patch that dispatches to them."""

    def __init__(self, layer_dirs: Iterable[Path] = ()) -> None:
        self.functions: dict[str, LocalFunction] = {}
        self.layer_dirs = [Path(d).resolve() for d in layer_dirs]
        self.invocations: list[Invocation] = []
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
        global _ACTIVE
        if self._undo is not None:
            self._undo()
            self._undo = None
        if _ACTIVE is self:
            _ACTIVE = None
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
    def invoke(self, function: str, event: Any) -> tuple[Any, dict[str, Any] | None]:
        """Call a handler: (result, None) or (None, error envelope)."""
        fn = self.lookup(function)
        if fn is None:
            raise KeyError(f"no local function {function!r}")
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        error: dict[str, Any] | None = None
        result: Any = None
        try:
            handler = fn.load()
            result = handler(event, LambdaContext(fn, request_id))
        except Exception as exc:
            error = error_envelope(exc, request_id)
        self.invocations.append(
            Invocation(
                fn.name, request_id, (time.perf_counter() - started) * 1000, error["errorType"] if error else None
            )
        )
        return result, error

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
        result, error = self.invoke(fn.name, event)
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
