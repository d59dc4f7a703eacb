"""Pure properties of the inventory layer: per-pair freshness (property 4) and record completeness (9)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_sync.core.clock import iso
from fleet_sync.run.region_status import RegionStatus
from fleet_sync.syncs.inventory.queries import is_inventory_fresh, stale_pairs
from fleet_sync.syncs.inventory.scan import REQUIRED_FIELDS, to_record

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
REGIONS = ["us-east-1", "eu-west-1", "ap-south-1"]

statuses = st.lists(
    st.builds(
        lambda a, r, n, age: RegionStatus(
            accountId=a, region=r, serverCount=n, lastSuccess=None if age is None else iso(NOW - timedelta(minutes=age))
        ),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(REGIONS),
        st.one_of(st.none(), st.integers(0, 50)),
        st.one_of(st.none(), st.integers(0, 120)),
    ),
    unique_by=lambda s: (s.accountId, s.region),
    max_size=9,
)


@settings(max_examples=300)
@given(statuses, st.integers(1, 60))
def test_property_4_freshness_is_judged_per_pair(rows, max_age):
    stale = stale_pairs(rows, REGIONS, max_age, now=NOW)
    for s in rows:
        old = s.lastSuccess is None or datetime.fromisoformat(s.lastSuccess.replace("Z", "+00:00")) < NOW - timedelta(
            minutes=max_age
        )
        # A pair needs DRS exactly when it holds servers and its last successful scan is too old
        assert ((s.accountId, s.region) in stale) == ((s.serverCount or 0) > 0 and old)
    fresh = is_inventory_fresh(rows, max_age, regions=REGIONS, now=NOW)
    # Fresh only when some pair holds data and none of those pairs is stale: one fresh row never hides a stale one
    assert fresh == (any((s.serverCount or 0) > 0 for s in rows) and not stale)


identification = st.fixed_dictionaries(
    {},
    optional={
        "hostname": st.text(min_size=1, max_size=20),
        "fqdn": st.text(min_size=1, max_size=30),
        "awsInstanceID": st.from_regex(r"i-[0-9a-f]{17}", fullmatch=True),
    },
)
servers = st.fixed_dictionaries(
    {"sourceServerID": st.from_regex(r"s-[0-9a-f]{17}", fullmatch=True)},
    optional={
        "tags": st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=5), max_size=3),
        "sourceProperties": st.fixed_dictionaries({}, optional={"identificationHints": identification}),
        "dataReplicationInfo": st.fixed_dictionaries(
            {},
            optional={
                "dataReplicationState": st.sampled_from(["CONTINUOUS", "INITIAL_SYNC", "STALLED", "DISCONNECTED"])
            },
        ),
        "sourceCloudProperties": st.fixed_dictionaries(
            {"originAccountID": st.sampled_from(ACCOUNTS), "originRegion": st.sampled_from(REGIONS)}
        ),
        "stagingArea": st.one_of(
            st.just({"status": "NOT_EXTENDED"}),
            st.fixed_dictionaries({"status": st.just("EXTENDED"), "stagingAccountID": st.sampled_from(ACCOUNTS)}),
        ),
    },
)


@settings(max_examples=300)
@given(servers, st.sampled_from(ACCOUNTS), st.sampled_from(REGIONS))
def test_property_9_every_record_has_the_required_fields(server, account, region):
    # Given any source server DRS may describe, however sparse
    record = to_record(server, account_id=account, region=region, template_id="rct-0123456789abcdefg")
    # Then its inventory row carries every required field, keyed to the DRS account and region holding it
    assert set(REQUIRED_FIELDS) <= set(record)
    assert record["accountRegion"] == f"{account}#{region}" and record["replicationRegion"] == region
    assert record["stagingAccountId"] == ((server.get("stagingArea") or {}).get("stagingAccountID") or account)


def test_a_scan_read_before_the_tag_sync_wrote_never_replaces_its_tags(tables):
    from datetime import UTC, datetime, timedelta

    from fleet_sync.core.clock import iso
    from fleet_sync.syncs.inventory.store import InventoryStore

    (table,) = tables("InventoryTable")
    store = InventoryStore(table)
    row = {
        "accountRegion": "111111111111#us-east-1",
        "sourceServerID": "s-1",
        "accountId": "111111111111",
        "replicationRegion": "us-east-1",
        "replicationState": "CONTINUOUS",
        "sourceTags": {"app": "old"},
    }
    store.write_records([row], {})
    # An inventory scan reads DRS; then the tag sync writes new tags through; then the scan writes its rows
    scanned_at = iso(datetime.now(UTC) - timedelta(seconds=5))
    store.write_tags("111111111111", "us-east-1", "s-1", {"app": "new"})
    existing = store.pair_rows("111111111111", "us-east-1")
    store.write_records([{**row, "replicationState": "STALLED"}], existing, scanned_at=scanned_at)
    [after] = store.pair_rows("111111111111", "us-east-1").values()
    assert after["sourceTags"] == {"app": "new"}  # the tag sync's newer write stands
    assert after["replicationState"] == "STALLED"  # the rest of the scan still lands
    # a scan read after the tags were written replaces them as usual
    existing = store.pair_rows("111111111111", "us-east-1")
    later = iso(datetime.now(UTC) + timedelta(seconds=5))
    store.write_records([{**row, "sourceTags": {"app": "newest"}}], existing, scanned_at=later)
    assert store.pair_rows("111111111111", "us-east-1")["s-1"]["sourceTags"] == {"app": "newest"}
