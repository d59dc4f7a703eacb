"""Region status writes and the active-region cache (design properties 3, 6, 7 and 8)."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_sync.core.regions import drs_regions
from fleet_sync.run import region_status, sync_state
from fleet_sync.run.region_status import (
    RegionStatus,
    RegionStatusStore,
    get_active_regions,
    invalidate_region_cache,
    load_region_statuses,
    resolve_active_regions,
)

ALL = drs_regions()


def update_region_status(account_id, region, server_count, error_message=None, *, table, **kw):
    RegionStatusStore(table).record(account_id, region, server_count, error_message, **kw)


class CountingTable:
    """A table proxy that counts Scan and GetItem calls (the real table still answers them)."""

    def __init__(self, table):
        self._t, self.scans, self.gets = table, 0, 0

    def __getattr__(self, name):
        return getattr(self._t, name)

    def scan(self, **kw):
        self.scans += 1
        return self._t.scan(**kw)

    def get_item(self, **kw):
        self.gets += 1
        return self._t.get_item(**kw)


def clear(table, keys=("accountId", "region")):
    with table.batch_writer() as b:
        for item in table.scan()["Items"]:
            b.delete_item(Key={k: item[k] for k in keys})


def test_property_1_active_regions_are_regions_with_servers_in_any_account(tables):
    (status,) = tables("RegionStatusTable")

    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(
            st.tuples(st.sampled_from(["111111111111", "222222222222"]), st.sampled_from(ALL), st.integers(0, 50)),
            max_size=40,
            unique_by=lambda t: t[:2],
        )
    )
    def check(rows):
        clear(status)
        for account, region, count in rows:
            update_region_status(account, region, count, table=status)
        got = resolve_active_regions(status, all_regions=ALL, cache_ttl=0)
        if rows:
            assert got.decision == "filtered"
            assert got.regions == sorted({r for _, r, n in rows if n > 0})
        else:
            assert got.decision == "fallback_empty" and got.regions == ALL

    check()


def test_property_2_unreadable_or_unconfigured_table_falls_back_to_all_regions(tables):
    (status,) = tables("RegionStatusTable")
    status.delete()
    assert resolve_active_regions(status, all_regions=ALL, cache_ttl=0).decision == "fallback_error"
    assert resolve_active_regions(None, all_regions=ALL).regions == ALL
    assert resolve_active_regions(None, all_regions=ALL, filtering=False).decision == "filtering_disabled"


def test_property_3_failure_keeps_the_last_count_success_replaces_it(tables):
    (status,) = tables("RegionStatusTable")
    update_region_status("111111111111", "eu-west-1", 42, table=status, replicating_count=40)
    update_region_status(
        "111111111111",
        "eu-west-1",
        None,
        "Rate exceeded",
        table=status,
        status="THROTTLED",
        error_code="ThrottlingException",
    )
    row = RegionStatus.from_item(status.get_item(Key={"accountId": "111111111111", "region": "eu-west-1"})["Item"])
    assert (row.status, row.serverCount, row.errorCode) == ("THROTTLED", 42, "ThrottlingException")
    assert row.lastSuccess is not None and row.lastChecked is not None and row.lastChecked >= row.lastSuccess
    update_region_status("111111111111", "eu-west-1", 0, table=status)
    row = RegionStatus.from_item(status.get_item(Key={"accountId": "111111111111", "region": "eu-west-1"})["Item"])
    assert (row.status, row.serverCount, row.errorCode, row.errorMessage) == ("AVAILABLE", 0, None, None)


def test_two_accounts_in_one_region_keep_separate_rows(tables):
    (status,) = tables("RegionStatusTable")
    update_region_status("111111111111", "us-east-1", 10, table=status)
    update_region_status(
        "222222222222",
        "us-east-1",
        None,
        "not initialized",
        table=status,
        status="UNINITIALIZED",
        error_code="UninitializedAccountException",
    )
    rows = {r.accountId: r for r in load_region_statuses(status, ttl_seconds=0)}
    assert rows["111111111111"].serverCount == 10 and rows["111111111111"].status == "AVAILABLE"
    assert rows["222222222222"].status == "UNINITIALIZED" and rows["222222222222"].serverCount is None
    assert resolve_active_regions(status, all_regions=ALL, cache_ttl=0).regions == ["us-east-1"]


def test_a_known_empty_answer_is_recorded_with_zero_servers_and_a_failure_never_zeroes(tables):
    (status,) = tables("RegionStatusTable")
    store = RegionStatusStore(status)
    store.record("111111111111", "af-south-1", 0, status="NOT_ENABLED", error_code="UnrecognizedClientException")
    row = store.get("111111111111", "af-south-1")
    assert row is not None
    assert (row.status, row.serverCount, row.replicatingCount) == ("NOT_ENABLED", 0, 0)
    assert (row.errorCode, row.errorMessage) == ("UnrecognizedClientException", None)
    assert row.known_empty and not row.active and row.lastSuccess == row.lastChecked
    # a pair that held servers and answers the same with an error message (an anomaly) keeps its count
    store.record("111111111111", "us-east-1", 7)
    store.record(
        "111111111111", "us-east-1", None, "held 7", status="UNINITIALIZED", error_code="UninitializedAccountException"
    )
    held = store.get("111111111111", "us-east-1")
    assert held is not None and (held.status, held.serverCount, held.known_empty) == ("UNINITIALIZED", 7, False)


def test_property_6_invalidation_reaches_every_container(tables):
    # Given two containers' worth of cache state sharing the stamp in the sync-state table
    status, state = tables("RegionStatusTable", "SyncStateTable")
    counting = CountingTable(status)
    invalidate_region_cache(state)
    update_region_status("111111111111", "us-east-1", 3, table=status)
    assert [s.region for s in load_region_statuses(counting, state_table=state)] == ["us-east-1"]
    update_region_status("111111111111", "eu-west-1", 7, table=status)
    assert counting.scans == 1 and len(load_region_statuses(counting, state_table=state)) == 1  # cached
    # When another container bumps the generation (not this process's cache.clear())
    state.put_item(Item={**sync_state.GENERATION_KEY, "generation": "other-container"})
    # Then the next call here reads the table again
    assert {s.region for s in load_region_statuses(counting, state_table=state)} == {"us-east-1", "eu-west-1"}
    assert counting.scans == 2


def test_property_8_one_scan_per_ttl_window(tables):
    status, state = tables("RegionStatusTable", "SyncStateTable")
    update_region_status("111111111111", "us-east-1", 3, table=status)
    invalidate_region_cache(state)

    @settings(max_examples=10, deadline=None)
    @given(st.integers(1, 59))
    def check(calls):
        region_status._cache.clear()
        counting = CountingTable(status)
        now = itertools.count(1000.0, 1.0)  # one second per call: every call inside one 60 s window
        for _ in range(calls):
            load_region_statuses(counting, state_table=state, ttl_seconds=60, clock=lambda: next(now))
        assert counting.scans == 1
        # After the TTL the table is read again
        load_region_statuses(counting, state_table=state, ttl_seconds=60, clock=lambda: 10_000.0)
        assert counting.scans == 2

    check()


def test_property_7_all_pages_are_read(tables):
    # Given more rows than one 1 MB DynamoDB page holds
    (status,) = tables("RegionStatusTable")
    with status.batch_writer() as b:
        for i in range(1500):
            b.put_item(
                Item={
                    "accountId": f"{100000000000 + i}",
                    "region": ALL[i % len(ALL)],
                    "serverCount": 0,
                    "errorMessage": "x" * 900,
                }
            )
        b.put_item(Item={"accountId": "999999999999", "region": "ap-southeast-7", "serverCount": 5})
    assert "LastEvaluatedKey" in status.scan()
    # Then every row counts, including the active one on a later page
    assert len(load_region_statuses(status, ttl_seconds=0)) == 1501
    assert resolve_active_regions(status, all_regions=ALL, cache_ttl=0).regions == ["ap-southeast-7"]


def test_get_active_regions_reads_its_tables_from_the_environment(tables, monkeypatch):
    status, state = tables("RegionStatusTable", "SyncStateTable")
    region_status._cache.clear()
    for k, v in {
        "STACK_NAME": "s",
        "ACCOUNTS_TABLE": "a",
        "INVENTORY_TABLE": "i",
        "RECOVERY_INSTANCES_TABLE": "r",
        "STAGING_EXTENSIONS_TABLE": "x",
        "PLAN_BUCKET": "b",
        "REGION_STATUS_TABLE": "RegionStatusTable",
        "SYNC_STATE_TABLE": "SyncStateTable",
    }.items():
        monkeypatch.setenv(k, v)
    assert get_active_regions() == ALL  # empty table: fall back to every region
    update_region_status("111111111111", "sa-east-1", 2, table=status)
    invalidate_region_cache(state)
    assert get_active_regions() == ["sa-east-1"]
