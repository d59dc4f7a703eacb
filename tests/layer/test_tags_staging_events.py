"""The sample events of the tag and staging syncs are what their state machines and handlers accept."""

import json
from pathlib import Path

import pytest

from fleet_sync import operations
from fleet_sync.models import WorkItem, parse_sync_input
from fleet_sync.syncs import sync_spec

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name):
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("name", "sync"),
    [("tag-sync.json", "tags"), ("staging-sync.json", "staging"), ("staging-sync-dry-run.json", "staging")],
)
def test_execution_inputs_are_valid(name, sync):
    parse_sync_input(sync_spec(sync).input_model, sync, load(name))


@pytest.mark.parametrize(
    ("name", "sync"), [("tag-sync-direct-invocation.json", "tags"), ("staging-sync-direct-invocation.json", "staging")]
)
def test_direct_invocations_name_the_syncs_operations(name, sync, monkeypatch):
    started = []
    monkeypatch.setattr(operations, "start_sync", lambda s, i, settings: started.append((s, i)) or {"sync": s})
    event = load(name)
    assert operations.dispatch(event, None) == {"sync": sync}
    assert started == [(sync, event.get("input"))]
    parse_sync_input(sync_spec(sync).input_model, sync, event.get("input"))


@pytest.mark.parametrize(("name", "sync"), [("tag-sync-task.json", "tags"), ("staging-sync-task.json", "staging")])
def test_worker_events_are_work_items(name, sync):
    item = WorkItem.model_validate(load(name))
    assert item.sync == sync
