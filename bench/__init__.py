"""Benchmarks: `make bench` runs every bench_* function and prints their figures side by side."""

import sys
from pathlib import Path

# The shared layer is a Lambda layer, not an installed package: make it importable as the handlers see it.
_LAYER = str(Path(__file__).resolve().parents[1] / "functions" / "shared")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
