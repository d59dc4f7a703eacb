"""The sample events under events/ stay true to the models the handlers parse (README and docs use them)."""

import json
from pathlib import Path

import pytest

from fleet_sync.models import SyncInput, WorkItem, parse_sync_input
from fleet_sync.operations import OPERATIONS, DirectInvocation
from fleet_sync.orchestration import ResolveEvent

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name):
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize("name", ["inventory-sync.json", "inventory-sync-discovery.json", "inventory-sync-scoped.json"])
def test_inventory_execution_inputs_are_accepted(name):
    assert isinstance(parse_sync_input(SyncInput, "inventory", load(name)), SyncInput)


def test_task_events_parse():
    ResolveEvent.model_validate(load("task-resolve-plan.json"))
    WorkItem.model_validate(load("task-scan-inventory.json"))
    for name in ("task-aggregate-run.json", "task-update-region-status.json", "task-finish-run.json"):
        run = load(name)["run"]
        assert run["sync"] == "inventory" and run["runId"] and run["executionArn"]
    assert load("task-finish-run.json")["summary"]["sync"] == "inventory"


def test_direct_invocation_samples_name_known_operations():
    for path in sorted(EVENTS.glob("*direct*.json")):
        call = DirectInvocation.model_validate(json.loads(path.read_text()))
        assert call.operation in OPERATIONS, path.name
