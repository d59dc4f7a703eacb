"""The layer's side of DRS events: what each event means, the scoped inputs the event task starts, the
debounce window (one conditional write), marking a pair active, and an older scan never deleting the rows
of a newer one. On moto tables made from template.yaml's definitions."""

from __future__ import annotations

import threading
from itertools import pairwise

import boto3
import pytest
from conftest import table_definition
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from fleet_sync.core.errors import InvalidSyncInput
from fleet_sync.events.drs_events import API_CALL, API_CALLS, SERVICE_EVENTS, DrsEvent, meaning_of
from fleet_sync.events.task import sync_input
from fleet_sync.run.models import parse_sync_input
from fleet_sync.run.region_status import RegionStatusStore
from fleet_sync.run.sync_state import SyncStateStore
from fleet_sync.syncs.inventory.spec import InventorySyncInput, scoped_plan
from fleet_sync.syncs.inventory.store import InventoryStore
from fleet_sync.syncs.recovery_instances.spec import RecoveryInstancesSyncInput
from fleet_sync.syncs.staging.spec import StagingSyncInput

A, REGION = "111111111111", "eu-west-1"


def event(detail_type: str, **detail) -> DrsEvent:
    raw = {
        "id": "e-1",
        "source": "aws.drs",
        "detail-type": detail_type,
        "account": A,
        "region": REGION,
        "time": "2026-12-03T10:00:00Z",
        "detail": detail,
    }
    return DrsEvent.model_validate(raw)


def test_every_event_the_rule_matches_means_an_inventory_run():
    for name in SERVICE_EVENTS:
        assert "inventory" in meaning_of(event(name)).syncs
    for name in API_CALLS:
        assert "inventory" in meaning_of(event(API_CALL, eventName=name)).syncs


@pytest.mark.parametrize(
    ("detail_type", "detail", "servers", "syncs"),
    [
        (API_CALL, {"eventName": "CreateSourceServerForDrs"}, True, ("inventory",)),
        (API_CALL, {"eventName": "TerminateRecoveryInstances"}, True, ("inventory", "recovery-instances")),
        (API_CALL, {"eventName": "CreateExtendedSourceServer"}, True, ("inventory", "staging")),
        (API_CALL, {"eventName": "DeleteSourceServer"}, False, ("inventory",)),
        (
            "DRS Source Server Launch Result",
            {"state": "DRILL_LAUNCH_SUCCEEDED"},
            True,
            ("inventory", "recovery-instances"),
        ),
        ("DRS Source Server Data Replication Stalled Change", {"state": "STALLED"}, True, ("inventory",)),
    ],
)
def test_what_an_event_means(detail_type, detail, servers, syncs):
    meaning = meaning_of(event(detail_type, **detail))
    assert (meaning.servers_exist, meaning.syncs) == (servers, syncs)


@pytest.mark.parametrize(
    "e",
    [
        event(API_CALL, eventName="DeleteSourceServer", errorCode="ResourceNotFoundException"),  # refused: no change
        event(API_CALL, eventName="DescribeSourceServers"),
        event("DRS PIT Snapshot Taken"),
    ],
)
def test_events_that_change_nothing_the_hub_keeps_mean_nothing(e):
    assert meaning_of(e) is None


def test_an_event_of_another_source_means_nothing():
    other = event(API_CALL, eventName="StartRecovery").model_copy(update={"source": "aws.ec2"})
    assert meaning_of(other) is None


@pytest.mark.parametrize("bad", [{"account": "12"}, {"region": "nowhere"}, {"detail-type": ""}])
def test_a_malformed_event_is_refused_naming_the_field(bad):
    raw = {"id": "e", "source": "aws.drs", "detail-type": "x", "account": A, "region": REGION, "time": "t", **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        DrsEvent.model_validate(raw)


def test_the_scoped_inputs_the_task_starts_are_valid_inputs_of_their_syncs():
    e = event(API_CALL, eventName="StartRecovery")
    inventory = parse_sync_input(InventorySyncInput, "inventory", sync_input("inventory", e))
    assert (inventory.accountId, inventory.region, inventory.eventTime) == (A, REGION, e.time)
    recovery = parse_sync_input(RecoveryInstancesSyncInput, "recovery-instances", sync_input("recovery-instances", e))
    assert (recovery.accountId, recovery.region, recovery.sourceServerIDs) == (A, REGION, None)
    staging = parse_sync_input(StagingSyncInput, "staging", sync_input("staging", e))
    assert (staging.targetAccounts, staging.regions) == ([A], [REGION])


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"accountId": A}, "region"),
        ({"region": REGION}, "accountId"),
        ({"accountId": A, "region": REGION, "mode": "discovery"}, "no accounts, regions or mode"),
        ({"accountId": A, "region": REGION, "eventTime": "yesterday"}, "ISO 8601"),
        ({"eventTime": "2026-12-03T10:00:00Z"}, "accountId"),
    ],
)
def test_a_bad_scoped_inventory_input_is_refused_naming_the_field(raw, needle):
    with pytest.raises(InvalidSyncInput, match=needle):
        parse_sync_input(InventorySyncInput, "inventory", raw)


def test_a_scoped_inventory_plan_is_its_one_pair_of_a_registered_account():
    plan = scoped_plan(InventorySyncInput(accountId=A, region=REGION), [A], [REGION, "us-east-1"])
    assert (plan.decision, plan.items) == ("scoped", [{"accountId": A, "region": REGION}])
    assert scoped_plan(InventorySyncInput(), [A], [REGION]) is None
    with pytest.raises(InvalidSyncInput, match="not a registered account"):
        scoped_plan(InventorySyncInput(accountId="222222222222", region=REGION), [A], [REGION])
    with pytest.raises(InvalidSyncInput, match="not a DRS region"):
        scoped_plan(InventorySyncInput(accountId=A, region="ap-south-1"), [A], [REGION])


def test_one_window_per_pair_and_sync_even_when_events_race(tables):
    (table,) = tables("SyncStateTable")
    state = SyncStateStore(table)
    opened: list[bool] = []
    barrier = threading.Barrier(20)

    def race():
        barrier.wait()
        opened.append(state.open_event_window(A, REGION, "inventory", 60, now=1000.0))

    threads = [threading.Thread(target=race) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(opened) == [False] * 19 + [True]
    assert state.open_event_window(A, REGION, "recovery-instances", 60, now=1000.0)  # another sync: its own
    assert state.open_event_window(A, "us-east-1", "inventory", 60, now=1000.0)  # another pair: its own
    assert not state.open_event_window(A, REGION, "inventory", 60, now=1059.0)
    assert state.open_event_window(A, REGION, "inventory", 60, now=1060.0)  # the window ended


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=30))
def test_each_event_opens_a_window_or_falls_in_the_one_that_is_on(times):
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="us-east-1").create_table(**table_definition("SyncStateTable"))
        state = SyncStateStore(table)
        opened = [t for t in sorted(times) if state.open_event_window(A, REGION, "inventory", 60, now=float(t))]
    assert opened and opened[0] == min(times)
    assert all(b - a >= 60 for a, b in pairwise(opened))
    assert all(any(o <= t < o + 60 for o in opened) for t in times)


def test_a_closed_window_opens_again(tables):
    (table,) = tables("SyncStateTable")
    state = SyncStateStore(table)
    assert state.open_event_window(A, REGION, "inventory", 60, now=1000.0)
    state.close_event_window(A, REGION, "inventory")
    assert state.open_event_window(A, REGION, "inventory", 60, now=1001.0)


def test_marking_active_raises_an_empty_pair_and_leaves_a_count(tables):
    (table,) = tables("RegionStatusTable")
    statuses = RegionStatusStore(table)
    assert statuses.mark_active(A, REGION)  # no row yet
    assert statuses.get(A, REGION).active and statuses.get(A, REGION).lastChecked is None
    statuses.record(A, "us-east-1", 0, status="UNINITIALIZED", error_code="UninitializedAccountException")
    assert statuses.mark_active(A, "us-east-1")
    row = statuses.get(A, "us-east-1")
    assert (row.status, row.serverCount, row.errorCode) == ("AVAILABLE", 1, None)
    statuses.record(A, "us-west-2", 40, replicating_count=39)
    assert not statuses.mark_active(A, "us-west-2")
    assert statuses.get(A, "us-west-2").serverCount == 40


def test_an_older_scan_keeps_the_rows_a_newer_scan_of_the_pair_wrote(tables):
    (table,) = tables("InventoryTable")
    store = InventoryStore(table)
    pair = f"{A}#{REGION}"
    old = {"accountRegion": pair, "sourceServerID": "s-00000000000000001", "lastUpdated": "2026-12-03T09:00:00Z"}
    new = {"accountRegion": pair, "sourceServerID": "s-00000000000000002", "lastUpdated": "2026-12-03T10:00:05Z"}
    for row in (old, new):
        table.put_item(Item=row)
    existing = {r["sourceServerID"]: r for r in (old, new)}
    # a scan that read DRS at 10:00:00 saw neither: the older row goes, the newer (written after) stays
    deleted = store.delete_missing(A, REGION, set(), existing, scanned_at="2026-12-03T10:00:00Z")
    assert deleted == 1
    assert [i["sourceServerID"] for i in table.scan()["Items"]] == ["s-00000000000000002"]
