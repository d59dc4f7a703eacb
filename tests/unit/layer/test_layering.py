"""The layer's structure, checked from its code: its import graph (grimp, the engine of import-linter) has no
cycles and goes one way (api -> run / syncs -> core), no module imports another of the layer inside a function,
every sync's worker lives in the same place, and modules and functions stay small."""

import ast
from pathlib import Path

import grimp
import pytest

from fleet_sync.run.registry import SYNCS

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS = ROOT / "functions"
LAYER = FUNCTIONS / "shared" / "fleet_sync"
GRAPH = grimp.build_graph("fleet_sync", cache_dir=None)
MODULES = sorted(m for m in GRAPH.modules if m.startswith("fleet_sync."))
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def imports_of(module: str) -> set[str]:
    return {m for m in GRAPH.find_modules_directly_imported_by(module) if m.startswith("fleet_sync.")}


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_graph_holds_the_layer():
    assert {"fleet_sync.core.tables", "fleet_sync.run.tasks", "fleet_sync.api.query"} <= set(MODULES)
    assert "fleet_sync.core.settings" in imports_of("fleet_sync.run.tasks")


def test_there_is_no_import_cycle():
    edges = {m: imports_of(m) for m in MODULES}
    done: set[str] = set()
    cycles = []

    def visit(module, path):
        if module in path:
            cycles.append([*path[path.index(module) :], module])
            return
        if module in done:
            return
        for imported in sorted(edges.get(module, ())):
            visit(imported, [*path, module])
        done.add(module)

    for module in MODULES:
        visit(module, [])
    assert cycles == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("fleet_sync.core", {"fleet_sync.run", "fleet_sync.syncs", "fleet_sync.api", "fleet_sync.events"}),
        ("fleet_sync.run", {"fleet_sync.api"}),
        ("fleet_sync.syncs", {"fleet_sync.api", "fleet_sync.events"}),
        ("fleet_sync.run", {"fleet_sync.events"}),
        ("fleet_sync.events", {"fleet_sync.api"}),
    ],
)
def test_imports_go_one_way(package, forbidden):
    wrong = {
        (m, i) for m in MODULES if m.startswith(package + ".") for i in imports_of(m) if package_of(i) in forbidden
    }
    assert wrong == set()


def test_syncs_never_reach_the_registry_or_the_tasks():
    """A sync's spec is read by the registry: a sync importing the registry (or the tasks that use it) would
    make a cycle through the registry."""
    above = {"fleet_sync.run.registry", "fleet_sync.run.tasks", "fleet_sync.run.start"}
    for sync_package in ("inventory", "tags", "staging"):
        reached = GRAPH.find_upstream_modules(f"fleet_sync.syncs.{sync_package}", as_package=True)
        assert not reached & above, sync_package
    spec_reach = GRAPH.find_upstream_modules("fleet_sync.syncs.recovery_instances.spec")
    assert not spec_reach & above


def function_level_imports(path: Path) -> list[str]:
    """`import` statements of the layer's own modules inside a function or method."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom):
                own = bool(inner.level) or (inner.module or "").startswith("fleet_sync")
            elif isinstance(inner, ast.Import):
                own = any(a.name.startswith("fleet_sync") for a in inner.names)
            else:
                continue
            if own:
                found.append(f"{path.name}:{inner.lineno} in {node.name}")
    return found


def test_the_scanner_finds_a_function_level_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    from .x import y\n    import fleet_sync.core\n    return y\n")
    assert len(function_level_imports(source)) == 2


def test_no_function_imports_a_module_of_the_layer():
    found = [
        f"{path.parent.name}/{hit}" for path in sorted(FUNCTIONS.rglob("*.py")) for hit in function_level_imports(path)
    ]
    assert found == []


@pytest.mark.parametrize("sync", sorted(SYNCS))
def test_every_sync_has_its_package_worker_and_handler_in_the_same_place(sync):
    package = sync.replace("-", "_")
    assert (LAYER / "syncs" / package / "spec.py").is_file()
    work = ast.parse((LAYER / "syncs" / package / "work.py").read_text())
    assert "work" in {n.name for n in work.body if isinstance(n, ast.FunctionDef)}
    handler = (FUNCTIONS / f"{package}_worker" / "app.py").read_text()
    assert f"from fleet_sync.syncs.{package}.work import work" in handler
    assert "run_work_item(" in handler


def test_modules_and_functions_stay_small():
    big_modules, big_functions = [], []
    for path in sorted(FUNCTIONS.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            big_modules.append(str(path.relative_to(ROOT)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None  # ast.parse sets it on every statement
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    big_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert big_modules == [] and big_functions == []
