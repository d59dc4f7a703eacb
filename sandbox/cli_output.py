"""Where the CLI writes (the real stdout) versus where handlers write (stderr with --verbose, else a tail
buffer whose last lines are shown when a run fails)."""

from __future__ import annotations

import collections
import io
import logging
import sys
import threading
from typing import TextIO


class TailBuffer(io.TextIOBase):
    """A stdout stand-in that keeps the last lines written to it (handler logs)."""

    def __init__(self, lines: int = 200) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=lines)
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            parts = (self._partial + text).split("\n")
            self._partial = parts.pop()
            self._lines.extend(parts)
        return len(text)

    def tail(self) -> list[str]:
        with self._lock:
            return [*self._lines, *([self._partial] if self._partial else [])]


class Output:
    """Where the CLI writes (the real stdout) versus where handlers write (stderr or a tail buffer)."""

    def __init__(self, verbose: bool) -> None:
        self.out: TextIO = sys.stdout
        self.err: TextIO = sys.stderr
        self.verbose = verbose
        self.sink: TextIO = sys.stderr if verbose else TailBuffer()  # type: ignore[assignment]

    def __enter__(self) -> Output:
        root = logging.getLogger()
        quieted = [logging.getLogger(name) for name in ("py.warnings", "werkzeug")]
        self._saved_logging = (root.handlers[:], root.level, [(lg, lg.level) for lg in quieted])
        sys.stdout = self.sink
        logging.basicConfig(
            level=logging.INFO if self.verbose else logging.WARNING,
            stream=self.err,
            format="%(levelname)s %(name)s: %(message)s",
            force=True,
        )
        logging.captureWarnings(True)
        if not self.verbose:
            logging.getLogger("py.warnings").setLevel(logging.ERROR)
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self.out
        logging.captureWarnings(False)
        handlers, level, levels = self._saved_logging
        root = logging.getLogger()
        root.handlers[:] = handlers
        root.setLevel(level)
        for logger, old in levels:
            logger.setLevel(old)

    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def show_handler_tail(self, lines: int = 40) -> None:
        if isinstance(self.sink, TailBuffer):
            tail = self.sink.tail()[-lines:]
            if tail:
                print(f"--- last {len(tail)} lines of handler output ---", file=self.err)
                print("\n".join(tail), file=self.err, flush=True)
