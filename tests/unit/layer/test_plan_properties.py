"""Properties of the plan a sync fans out over (design properties 1 and 2, and the discovery guarantee).

Pure functions: no AWS needed, so Hypothesis can explore many fleets quickly.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_sync.core.clock import iso
from fleet_sync.core.errors import InvalidSyncInput
from fleet_sync.core.regions import drs_regions
from fleet_sync.run.models import SyncInput
from fleet_sync.run.plan import build_plan
from fleet_sync.run.region_status import RegionStatus

REGIONS = drs_regions()
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
AGE = timedelta(hours=6)
ACCOUNTS = [f"{n:012d}" for n in (111111111111, 222222222222, 333333333333, 444444444444)]

status_rows = st.lists(
    st.builds(
        lambda account, region, count, minutes, status: RegionStatus(
            accountId=account,
            region=region,
            status=status,
            serverCount=count,
            lastChecked=iso(NOW - timedelta(minutes=minutes)),
            lastSuccess=iso(NOW - timedelta(minutes=minutes)),
        ),
        account=st.sampled_from(ACCOUNTS),
        region=st.sampled_from(REGIONS),
        count=st.one_of(st.none(), st.integers(0, 3000)),
        minutes=st.integers(0, 1000),
        status=st.sampled_from(["AVAILABLE", "THROTTLED", "ACCESS_DENIED", "NOT_ENABLED", "UNINITIALIZED"]),
    ),
    max_size=120,
    unique_by=lambda s: (s.accountId, s.region),
)


def plan(statuses, *, request=None, filtering=True, accounts=ACCOUNTS):
    return build_plan(
        request=request or SyncInput(),
        registered_accounts=accounts,
        all_regions=REGIONS,
        statuses=statuses,
        filtering=filtering,
        discovery_age=AGE,
        now=NOW,
    )


def pairs(p):
    return {(i["accountId"], i["region"]) for i in p.items}


@settings(max_examples=200, deadline=None)
@given(status_rows)
def test_property_1_only_active_new_or_stale_pairs_are_scanned(statuses):
    # Given any region status table with rows
    p = plan(statuses)
    if not statuses:
        assert p.decision == "fallback_empty"
        return
    by_pair = {(s.accountId, s.region): s for s in statuses}
    accounts_with_rows = {s.accountId for s in statuses}
    for account in ACCOUNTS:
        for region in REGIONS:
            row = by_pair.get((account, region))
            stale = row is not None and datetime.fromisoformat(row.lastChecked.replace("Z", "+00:00")) < NOW - AGE
            expected = account not in accounts_with_rows or row is None or (row.serverCount or 0) > 0 or stale
            # Then a pair is scanned exactly when it holds servers, is new, or is due for rediscovery
            assert ((account, region) in pairs(p)) == expected, (account, region, row)
    assert p.decision == "filtered"
    assert p.pairs_skipped == len(ACCOUNTS) * len(REGIONS) - len(p.items)


@settings(max_examples=50, deadline=None)
@given(status_rows, st.sampled_from(["empty", "error", "disabled", "discovery"]))
def test_property_2_fallback_scans_every_pair(statuses, why):
    # Given an empty or unreadable table, filtering switched off, or a discovery run
    cases: dict[str, dict[str, Any]] = {
        "empty": {"statuses": []},
        "error": {"statuses": None},
        "disabled": {"statuses": statuses, "filtering": False},
        "discovery": {"statuses": statuses, "request": SyncInput(mode="discovery")},
    }
    p = plan(**cases[why])
    # Then every account is scanned in every DRS region
    assert pairs(p) == {(a, r) for a in ACCOUNTS for r in REGIONS}
    assert (
        p.decision
        == {
            "empty": "fallback_empty",
            "error": "fallback_error",
            "disabled": "filtering_disabled",
            "discovery": "discovery",
        }[why]
    )


@settings(max_examples=100, deadline=None)
@given(status_rows, st.integers(0, 2000))
def test_no_pair_goes_unscanned_longer_than_the_discovery_age(statuses, minutes_later):
    # Given a plan now, and another one some minutes later with no scan in between
    later = NOW + timedelta(minutes=minutes_later)
    p = build_plan(
        request=SyncInput(),
        registered_accounts=ACCOUNTS,
        all_regions=REGIONS,
        statuses=statuses,
        filtering=True,
        discovery_age=AGE,
        now=later,
    )
    # Then every pair last checked more than the discovery age ago is in the plan
    for s in statuses:
        checked = datetime.fromisoformat(s.lastChecked.replace("Z", "+00:00"))
        if later - checked > AGE:
            assert (s.accountId, s.region) in pairs(p)


def test_a_new_account_is_scanned_everywhere_while_known_accounts_stay_filtered():
    statuses = [
        RegionStatus(accountId=ACCOUNTS[0], region=r, serverCount=5 if r == "us-east-1" else 0, lastChecked=iso(NOW))
        for r in REGIONS
    ]
    p = plan(statuses, accounts=ACCOUNTS[:2])
    assert {r for a, r in pairs(p) if a == ACCOUNTS[0]} == {"us-east-1"}
    assert {r for a, r in pairs(p) if a == ACCOUNTS[1]} == set(REGIONS)
    assert p.active_regions == ["us-east-1"]


def test_scope_narrows_the_plan_and_rejects_unknown_names():
    statuses = [
        RegionStatus(accountId=a, region=r, serverCount=3 if r == "eu-west-1" else 0, lastChecked=iso(NOW))
        for a in ACCOUNTS
        for r in REGIONS
    ]
    p = plan(statuses, request=SyncInput(accounts=[ACCOUNTS[1]], regions=["eu-west-1", "us-east-1"]))
    assert pairs(p) == {(ACCOUNTS[1], "eu-west-1")}
    with pytest.raises(InvalidSyncInput, match="accounts: not registered"):
        plan(statuses, request=SyncInput(accounts=["999999999999"]))
    with pytest.raises(InvalidSyncInput, match="regions: not DRS regions"):
        plan(statuses, request=SyncInput(regions=["mars-north-1"]))


def test_drs_regions_come_from_the_sdk_not_a_hard_coded_list():
    assert len(REGIONS) >= 34
    assert {"ap-east-2", "ap-southeast-7", "ca-west-1", "mx-central-1"} <= set(REGIONS)
    assert drs_regions(" us-east-1 ,eu-west-1") == ["eu-west-1", "us-east-1"]


class CountedId(str):
    """An account or region name that counts the equality comparisons made on it."""

    equalities = 0

    def __eq__(self, other: object) -> bool:
        CountedId.equalities += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_build_plan_is_linear_in_accounts():
    # Given 10,000 registered accounts with one row each (distinct objects, as read from two tables)
    n = 10_000
    registered = [CountedId(f"{i:012d}") for i in range(n)]
    statuses = [
        RegionStatus(
            accountId=CountedId(f"{i:012d}"), region=CountedId("us-east-1"), serverCount=1, lastChecked=iso(NOW)
        )
        for i in range(n)
    ]
    CountedId.equalities = 0
    p = plan(statuses, accounts=registered)
    # Then each row is compared a bounded number of times: a list membership test per row would make
    # n * n / 2 = 50,000,000 comparisons; hashing makes about one per lookup.
    assert CountedId.equalities <= 10 * n
    assert len(p.items) == n * len(REGIONS) and p.active_regions == ["us-east-1"]
