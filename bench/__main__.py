"""`make bench`: every benchmark, measured in this run, printed side by side.

Each bench module exposes one `bench_*() -> dict` returning {"title": str, "rows": [[label, value, ...]],
"headers": [...], "notes": [...]}; this runner prints them as tables. Figures are measurements on the
sandbox (moto + the DRS simulator, in process), never arithmetic.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from typing import Any

BENCHES = [
    ("bench.sandbox", "bench_sandbox"),
    ("bench.simulator", "bench_simulator"),
    ("bench.inventory", "bench_inventory"),
    ("bench.tags_staging", "bench_tags_staging"),
    ("bench.estate", "bench_estate"),
    ("bench.recovery_instances", "bench_recovery_instances"),
]


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *map(line, cells[1:])])


def main(argv: list[str]) -> int:
    only = set(argv)
    results = {}
    for module_name, fn_name in BENCHES:
        if only and module_name.split(".")[-1] not in only:
            continue
        fn = getattr(importlib.import_module(module_name), fn_name)
        started = time.perf_counter()
        out = fn()
        out.setdefault("seconds", round(time.perf_counter() - started, 1))
        results[module_name] = out
        print(f"\n## {out['title']}  ({out['seconds']} s)")
        if out.get("rows"):
            print(_table(out["headers"], out["rows"]))
        for note in out.get("notes", []):
            print(f"  - {note}")
    path = os.environ.get("BENCH_JSON")
    if path:
        with open(path, "w") as fh:
            json.dump(results, fh, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
