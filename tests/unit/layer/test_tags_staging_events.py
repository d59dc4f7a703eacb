"""The direct invocations of the tag and staging syncs start their state machines with the sample input."""

import json
from pathlib import Path

import pytest

from fleet_sync.api import operations
from fleet_sync.core.settings import Settings
from fleet_sync.run.models import parse_sync_input
from fleet_sync.run.registry import sync_spec

EVENTS = Path(__file__).resolve().parents[3] / "events"


def load(name):
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("name", "sync"), [("tags-sync-direct-invocation.json", "tags"), ("staging-sync-direct-invocation.json", "staging")]
)
def test_direct_invocations_name_the_syncs_operations(name, sync, monkeypatch):
    started = []

    def start_sync(s, i, settings):
        started.append((s, i))
        return {"sync": s}

    monkeypatch.setattr(operations, "start_sync", start_sync)
    event = load(name)
    unread = Settings.model_construct()  # the replaced start_sync never reads it
    assert operations.dispatch(event, unread) == {"sync": sync}
    assert started == [(sync, event.get("input"))]
    parse_sync_input(sync_spec(sync).input_model, sync, event.get("input"))
