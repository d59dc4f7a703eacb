"""The size half of the complexity gate: ruff checks complexity, branches, statements and arguments, and has no
rule for lines. Fails when a module has more than ``max-module-lines`` lines or a function more than
``max-function-lines`` (its ``def`` to its last line, docstring included); limits and roots come from
``[tool.size-gate]`` in pyproject.toml.

    python .ci/size_gate.py
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def violations(path: Path, max_module: int, max_function: int) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = []
    lines = text.count("\n")
    if lines > max_module:
        found.append(f"{path}: {lines} lines (limit {max_module})")
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > max_function:
                found.append(f"{path}:{node.lineno}: {node.name} is {length} lines (limit {max_function})")
    return found


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["size-gate"]
    pending = set(config.get("pending", []))
    found = [
        v
        for root in config["roots"]
        for path in sorted((ROOT / root).rglob("*.py"))
        if path.relative_to(ROOT).as_posix() not in pending
        for v in violations(path.relative_to(ROOT), config["max-module-lines"], config["max-function-lines"])
    ]
    print("\n".join(found) if found else "size gate: OK")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
