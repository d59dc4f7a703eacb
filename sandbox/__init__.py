"""The offline stack: the real template deployed into moto, the DRS simulator, fleets, the CLI.

`from sandbox import Sandbox` is the entry point (sandbox.core). It is imported lazily so that
`import sandbox.drs` and friends stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Sandbox, SandboxError

__all__ = ["Sandbox", "SandboxError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
