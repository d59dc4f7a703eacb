"""Separation of concerns (requirement 11), checked from template.yaml and the code itself.

Everything that writes to DRS (tags, launch configurations, extensions) runs only in the data-management
side: the tag and staging sync workers. DRS and EC2 calls happen under the fleet role each worker assumes
in an account (that role's template grants the DRS actions), so in this stack:
- only a sync state machine's worker function may sts:AssumeRole the fleet role;
- no function's own policy grants a DRS or EC2 write action, or any "*" action;
- the DRS write calls live in two layer modules, and only the two workers' code reaches them.
"""

import ast
from pathlib import Path

import pytest

from sandbox.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
LAYER = ROOT / "functions" / "shared" / "fleet_sync"
DRS_WRITES = ("tag_resource", "untag_resource", "update_launch_configuration", "create_extended_source_server")
WRITE_MODULES = {"fleet_sync.tags", "fleet_sync.staging"}
WRITE_WORKERS = {"TagSyncWorkerFunction": "fleet_sync.tags", "StagingSyncWorkerFunction": "fleet_sync.staging"}
WRITE_ACTIONS = {
    "drs:TagResource",
    "drs:UntagResource",
    "drs:UpdateLaunchConfiguration",
    "drs:CreateExtendedSourceServer",
    "ec2:CreateTags",
    "ec2:DeleteTags",
}


def functions():
    return {lid: r for lid, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}


def statements(function):
    out = []
    for policy in function["Properties"].get("Policies", []) or []:
        if isinstance(policy, dict) and "Statement" in policy:
            out += policy["Statement"]
    return out


def actions(statement):
    a = statement.get("Action", [])
    return [a] if isinstance(a, str) else list(a)


def sync_workers():
    """The worker function of every sync state machine (its WorkerFunctionArn substitution)."""
    out = {}
    for r in RESOURCES.values():
        if r["Type"] != "AWS::Serverless::StateMachine":
            continue
        subs = r["Properties"].get("DefinitionSubstitutions", {})
        worker = subs.get("WorkerFunctionArn")
        if worker:
            out[subs["SyncName"]] = worker["Fn::GetAtt"][0]
    return out


def test_the_tag_and_staging_syncs_have_their_own_workers():
    workers = sync_workers()
    assert workers["tags"] == "TagSyncWorkerFunction"
    assert workers["staging"] == "StagingSyncWorkerFunction"
    assert workers["inventory"] == "InventoryWorkerFunction"


def test_only_sync_workers_may_assume_the_fleet_role():
    assuming = {lid for lid, f in functions().items() if any("sts:AssumeRole" in actions(s) for s in statements(f))}
    assert set(WRITE_WORKERS) <= assuming
    # and the data-management function, for the API's writes (issue 6: terminate recovery instances, refresh
    # stale inventory pairs from DRS); never the read-only query function
    assert assuming <= set(sync_workers().values()) | {"DataManagementFunction"}
    assert "QueryApiFunction" not in assuming


def test_no_function_policy_grants_a_drs_or_ec2_write_or_a_wildcard_action():
    for lid, f in functions().items():
        for s in statements(f):
            for a in actions(s):
                assert a not in WRITE_ACTIONS, f"{lid} grants {a}"
                assert a != "*" and not a.endswith(":*"), f"{lid} grants {a}"


def test_no_standalone_policy_grants_a_drs_or_ec2_write_or_the_fleet_role():
    for lid, r in RESOURCES.items():
        if r["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        for s in r["Properties"]["PolicyDocument"]["Statement"]:
            for a in actions(s):
                assert a not in WRITE_ACTIONS | {"sts:AssumeRole"}, f"{lid} grants {a}"


def test_the_workers_assume_only_the_fleet_role():
    for lid in WRITE_WORKERS:
        [assume] = [s for s in statements(functions()[lid]) if "sts:AssumeRole" in actions(s)]
        assert assume["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${CrossAccountRoleName}"}


# ------------------------------------------------------------------ the code


def module_imports(path: Path, package: str) -> set[str]:
    """fleet_sync modules a file imports (absolute or relative, at any depth of the file)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x import y / from . import x
                base = node.module and f"{package}.{node.module}"
                if base:
                    out.add(base)
                else:
                    out |= {f"{package}.{a.name}" for a in node.names}
            elif node.module and node.module.startswith("fleet_sync"):
                out.add(node.module)
                out |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("fleet_sync")}
    return out


LAYER_MODULES = {f"fleet_sync.{p.stem}": p for p in LAYER.glob("*.py") if p.stem != "__init__"}
GRAPH = {name: module_imports(path, "fleet_sync") & set(LAYER_MODULES) for name, path in LAYER_MODULES.items()}


def closure(start: set[str]) -> set[str]:
    seen, todo = set(), list(start & set(LAYER_MODULES))
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += GRAPH[m]
    return seen


def handler_of(function_id: str) -> Path:
    code_uri = functions()[function_id]["Properties"]["CodeUri"]
    return ROOT / code_uri / "app.py"


def test_drs_writes_are_called_only_in_the_write_modules():
    for name, path in LAYER_MODULES.items():
        calls = {
            n.func.attr
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in DRS_WRITES
        }
        if name not in WRITE_MODULES:
            assert not calls, f"{name} calls {calls}"
    assert closure({"fleet_sync.tags"}) >= {"fleet_sync.tags"}


@pytest.mark.parametrize("function_id", sorted(functions()))
def test_only_the_write_workers_reach_the_write_modules(function_id):
    reached = closure(module_imports(handler_of(function_id), "fleet_sync"))
    writes = reached & WRITE_MODULES
    if function_id in WRITE_WORKERS:
        assert writes == {WRITE_WORKERS[function_id]}
    else:
        assert not writes, f"{function_id} imports {writes}"


def test_the_shared_task_functions_import_only_the_read_only_sync_specs():
    # syncs.py (imported by every shared task) reaches the specs, never the write modules
    assert not closure({"fleet_sync.syncs"}) & WRITE_MODULES
    assert {"fleet_sync.tags_spec", "fleet_sync.staging_spec"} <= closure({"fleet_sync.syncs"})
