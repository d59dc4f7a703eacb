"""Separation of concerns, checked from template.yaml and the code itself.

Everything that writes to DRS (tags, launch configurations, extensions) runs only in the data-management
side: the tag and staging sync workers. DRS and EC2 calls happen under the fleet role each worker assumes
in an account (that role's template grants the DRS actions), so in this stack:
- only a sync state machine's worker function may sts:AssumeRole the fleet role;
- no function's own policy grants a DRS or EC2 write action, or any "*" action;
- the DRS write calls live in two layer modules, and only the two workers' code reaches them (and the query
  function reaches no write path at all).
"""

import ast
from pathlib import Path

import grimp
import pytest

from sandbox.stack import load_template

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
LAYER = ROOT / "functions" / "shared" / "fleet_sync"
DRS_WRITES = ("tag_resource", "untag_resource", "update_launch_configuration", "create_extended_source_server")
WRITE_MODULES = {"fleet_sync.syncs.tags.tagging", "fleet_sync.syncs.staging.extend"}
WRITE_WORKERS = {
    "TagsWorkerFunction": "fleet_sync.syncs.tags.tagging",
    "StagingWorkerFunction": "fleet_sync.syncs.staging.extend",
}
GRAPH = grimp.build_graph("fleet_sync", cache_dir=None)
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
    assert workers["tags"] == "TagsWorkerFunction"
    assert workers["staging"] == "StagingWorkerFunction"
    assert workers["inventory"] == "InventoryWorkerFunction"


def test_only_sync_workers_may_assume_the_fleet_role():
    assuming = {lid for lid, f in functions().items() if any("sts:AssumeRole" in actions(s) for s in statements(f))}
    assert set(WRITE_WORKERS) <= assuming
    # and the manage function, for the API's writes (terminate recovery instances, refresh stale inventory
    # pairs from DRS); never the read-only query function nor the direct operations' function
    assert assuming <= set(sync_workers().values()) | {"ManageApiFunction"}
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


def handler_imports(function_id: str) -> set[str]:
    """The layer modules a function's handler imports."""
    code_uri = functions()[function_id]["Properties"]["CodeUri"]
    tree = ast.parse((ROOT / code_uri / "app.py").read_text())
    return {
        n.module
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("fleet_sync")
    }


def reached(modules: set[str]) -> set[str]:
    """The modules these import, directly or not, and themselves."""
    return set().union(modules, *(GRAPH.find_upstream_modules(m) for m in modules))


def test_drs_writes_are_called_only_in_the_write_modules():
    callers = set()
    for path in LAYER.rglob("*.py"):
        name = "fleet_sync." + ".".join(path.relative_to(LAYER).with_suffix("").parts)
        for n in ast.walk(ast.parse(path.read_text())):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in DRS_WRITES:
                callers.add(name)
    assert callers == WRITE_MODULES


@pytest.mark.parametrize("function_id", sorted(functions()))
def test_only_the_write_workers_reach_the_write_modules(function_id):
    writes = reached(handler_imports(function_id)) & WRITE_MODULES
    if function_id in WRITE_WORKERS:
        assert writes == {WRITE_WORKERS[function_id]}
    else:
        assert not writes, f"{function_id} imports {writes}"


def test_the_shared_task_functions_import_only_the_read_only_sync_specs():
    registry = reached({"fleet_sync.run.registry"})
    assert not registry & WRITE_MODULES
    assert {"fleet_sync.syncs.tags.spec", "fleet_sync.syncs.staging.spec"} <= registry


def test_the_query_function_reaches_no_write_path():
    """Its role could not use them anyway; keeping them out keeps the function what its name says."""
    seen = reached(handler_imports("QueryApiFunction"))
    assert "fleet_sync.api.query" in seen
    forbidden = {
        "fleet_sync.api.manage",
        "fleet_sync.api.accounts_admin",
        "fleet_sync.api.operations",
        "fleet_sync.syncs.inventory.refresh",  # the DRS fallback, which writes back
        "fleet_sync.syncs.recovery_instances.terminate",
        "fleet_sync.run.tasks",
        *WRITE_MODULES,
    }
    assert not seen & forbidden, sorted(seen & forbidden)
