"""How every patch of moto is put in and taken out: once per process, and undone as a whole.

moto's classes are process-wide, so two sandboxes in one process share a patch: `installed_once(apply)` makes
an install that applies the first time and then hands back the same undo until that undo has run.
`wrap_methods` replaces methods with wrappers of themselves and returns what puts the originals back.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["installed_once", "wrap_methods"]

Undo = Callable[[], None]


def installed_once(apply: Callable[..., Undo]) -> Callable[..., Undo]:
    """`apply(...)` patches and returns its undo; the result is idempotent and always returns one undo."""
    lock = threading.Lock()
    applied: list[Undo] = []

    def undo() -> None:
        with lock:
            while applied:
                applied.pop()()

    @functools.wraps(apply)
    def install(*args: Any) -> Undo:
        with lock:
            if not applied:
                applied.append(apply(*args))
        return undo

    return install


def wrap_methods(patches: Sequence[tuple[Any, str, Callable[[Any], Any]]]) -> Undo:
    """Set each `owner.name` to `wrap(owner.name)`; the undo restores every original."""
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, wrap in patches:
        setattr(owner, name, wrap(getattr(owner, name)))

    def undo() -> None:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)

    return undo
