"""Test tiers by speed. `make check` runs the ``fast`` tier; `make test` runs it and then everything else.

The tiers are given here by path, so folders can be reorganized without touching the tests:

- ``fast``: the unit tests (tests/unit: the layer and the template), and the simulator's and the fleet's own tests
  (well under a second each, a few property tests excepted);
- ``slow``: whole state machines run on the sandbox, and the API fuzzing (seconds to a minute each; most
  of the suite's time). A test marked ``slow`` in its file is slow wherever it lives, and never fast;
- everything else (the API on the sandbox, the template deployer, the CLI) is neither: `make test` only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.drs.clock import ManualClock, installed

_ROOT = Path(__file__).resolve().parent
FAST = ("unit/", "sandbox/test_simulator_", "sandbox/test_fleet.py")
SLOW = ("workflows/", "api/test_fuzz.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.resolve().relative_to(_ROOT).as_posix()
        if where.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
        elif where.startswith(FAST) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.fast)


@pytest.fixture
def manual_clock() -> Iterator[ManualClock]:
    """The simulator's clock, moved only by the test (``manual_clock.advance(seconds)``): DRS jobs finish
    when the test says enough time has passed."""
    with installed(ManualClock()) as clock:
        yield clock
