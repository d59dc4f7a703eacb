"""Sandbox start-up: translate + deploy the real template into moto (and seed a fleet), and one smoke run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "tests/fixtures/smoke/template.yaml"
DEMO_FLEET = ROOT / "events/fleets/demo.yaml"


def _timed(make: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run (CPU shows the cost when the machine is busy)."""
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        make()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu


def _row(label: str, timing: tuple[list[float], list[float]]) -> list[Any]:
    wall, cpu = timing
    return [label, f"{statistics.median(wall):.2f}", f"{min(wall):.2f}", f"{statistics.median(cpu):.2f}", len(wall)]


def bench_sandbox(runs: int = 5) -> dict[str, Any]:
    from sandbox import Sandbox

    def open_close(**kw: Any) -> Callable[[], None]:
        def go() -> None:
            with Sandbox(**kw):
                pass

        return go

    product = ROOT / "template.yaml"
    first = _timed(open_close(template=product), 1)
    empty = _timed(open_close(template=product), runs)
    rows = [_row("first start in the process (imports, moto warm-up)", first), _row("start + deploy, no fleet", empty)]
    if DEMO_FLEET.exists():
        rows.append(
            _row("start + deploy + seed the demo fleet", _timed(open_close(template=product, fleet=DEMO_FLEET), 2))
        )
    with Sandbox(template=SMOKE) as sb:
        rows.append(_row("smoke run (12 items, inline + distributed map)", _timed(lambda: sb.run_sync("smoke"), 3)))
        assert sb.deployment is not None
        resources = len(sb.deployment.resources)
    return {
        "title": "Sandbox start-up and a smoke run",
        "headers": ["what", "median s", "min s", "median CPU s", "runs"],
        "rows": rows,
        "notes": [
            "start = translate (aws-sam-translator) + deploy by type into moto + plug in the handlers; stop included",
            f"the smoke stack has {resources} resources",
        ],
        "median_start_seconds": round(statistics.median(empty[0]), 3),
    }
