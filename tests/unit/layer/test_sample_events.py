"""The sample events under events/ are what the handlers parse: each task's event validates with its model,
and the sample summary with its sync's summary model (README and docs use them)."""

import json
from pathlib import Path

import pytest

from fleet_sync.api.operations import OPERATIONS, DirectInvocation
from fleet_sync.events.drs_events import DrsEvent, meaning_of
from fleet_sync.run.models import FinishEvent, InvalidateEvent, ResolveEvent, RunEvent, WorkItem, parse_sync_input
from fleet_sync.run.registry import sync_spec

EVENTS = Path(__file__).resolve().parents[3] / "events"


def load(name):
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("name", "sync"),
    [
        ("inventory-sync.json", "inventory"),
        ("inventory-sync-discovery.json", "inventory"),
        ("inventory-sync-scoped.json", "inventory"),
        ("inventory-sync-event.json", "inventory"),
        ("tags-sync.json", "tags"),
        ("staging-sync.json", "staging"),
        ("staging-sync-dry-run.json", "staging"),
        ("recovery-instances-sync.json", "recovery-instances"),
        ("recovery-instances-sync-wave.json", "recovery-instances"),
    ],
)
def test_execution_inputs_are_accepted(name, sync):
    parse_sync_input(sync_spec(sync).input_model, sync, load(name))


@pytest.mark.parametrize("name", ["drs-event-api-call.json", "drs-event-launch-result.json"])
def test_drs_events_parse_and_mean_an_inventory_run(name):
    meaning = meaning_of(DrsEvent.model_validate(load(name)))
    assert meaning is not None and "inventory" in meaning.syncs


def test_task_events_parse_with_their_models():
    assert ResolveEvent.model_validate(load("task-resolve-plan.json")).sync == "inventory"
    for name in ("task-summarize-run.json", "task-update-region-status.json"):
        assert RunEvent.model_validate(load(name)).run.sync == "inventory"
    InvalidateEvent.model_validate(load("task-invalidate-region-cache.json"))
    finish = FinishEvent.model_validate(load("task-finish-run.json"))
    summary = sync_spec(finish.run.sync).summary_model.model_validate(finish.summary)
    assert summary.sync == finish.run.sync == "inventory" and summary.serversSynced == 17


@pytest.mark.parametrize("sync", ["inventory", "tags", "staging", "recovery-instances"])
def test_worker_events_are_work_items_of_their_sync(sync):
    item = WorkItem.model_validate(load(f"task-{sync}-worker.json"))
    assert item.sync == sync and item.executionArn and item.executionArn.endswith(f":{item.runId}")


def test_every_direct_operation_has_a_sample():
    samples = [*EVENTS.glob("*-sync-direct-invocation.json"), EVENTS / "recovery-instances-sync-status.json"]
    named = {DirectInvocation.model_validate(json.loads(path.read_text())).operation for path in samples}
    assert named == set(OPERATIONS)
