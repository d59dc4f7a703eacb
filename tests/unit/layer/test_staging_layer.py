"""The staging sync's layer pieces, without Step Functions: input, plan statuses (properties 1, 2, 11),
the named functions over fake DRS clients (property 11), failure backoff and the extension store."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from fleet_sync.core.clock import iso
from fleet_sync.core.errors import InvalidSyncInput
from fleet_sync.core.regions import drs_regions
from fleet_sync.run.accounts import AccountRecord
from fleet_sync.run.models import (
    MAX_ERRORS_IN_SUMMARY,
    MAX_NOTES_PER_ITEM,
    ItemNote,
    ItemResult,
    RunRecord,
    parse_sync_input,
)
from fleet_sync.run.plan import build_plan
from fleet_sync.run.region_status import RegionStatus
from fleet_sync.run.registry import sync_spec
from fleet_sync.run.tasks import build_summary
from fleet_sync.syncs.staging import extend
from fleet_sync.syncs.staging.extend import (
    ExtendRun,
    RegionNotActive,
    auto_extend_staging_servers,
    extend_source_server,
)
from fleet_sync.syncs.staging.queries import get_extension_audit, get_extension_failures
from fleet_sync.syncs.staging.reads import get_extended_source_servers, get_staging_account_servers
from fleet_sync.syncs.staging.spec import StagingSyncInput, staging_plan_statuses, staging_targets
from fleet_sync.syncs.staging.store import BACKOFF_MAX, QUOTA_SK, ExtensionStore, backoff, is_deferred

REGIONS = drs_regions()
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
T1, T2, S1, S2, S3 = "111111111111", "222222222222", "333333333333", "444444444444", "555555555555"
ACCOUNTS = [
    AccountRecord(accountId=T1, kind="target", stagingAccounts=[S1, S2]),
    AccountRecord(accountId=T2, kind="target", stagingAccounts=[S2]),
    AccountRecord(accountId="666666666666", kind="target"),
    AccountRecord(accountId=S1, kind="staging"),
    AccountRecord(accountId=S2, kind="staging"),
]


# ------------------------------------------------------------------ input and accounts


def test_input_accepts_target_accounts_and_dry_run_and_nothing_else():
    req = parse_sync_input(StagingSyncInput, "staging", {"targetAccounts": [T1], "dryRun": True})
    assert isinstance(req, StagingSyncInput)
    assert req.targetAccounts == [T1] and req.dryRun is True
    default = parse_sync_input(StagingSyncInput, "staging", None)
    assert isinstance(default, StagingSyncInput)
    assert default.dryRun is False
    bad: dict[str, Any]
    for bad in ({"dryRun": "yes"}, {"targetAccounts": ["123"]}, {"targetAccounts": []}, {"extend": True}):
        with pytest.raises(InvalidSyncInput):
            parse_sync_input(StagingSyncInput, "staging", bad)


def test_targets_are_target_accounts_that_trust_staging_accounts():
    chosen = staging_targets(ACCOUNTS, StagingSyncInput())
    assert [a.accountId for a in chosen] == [T1, T2]
    assert [a.accountId for a in staging_targets(ACCOUNTS, StagingSyncInput(targetAccounts=[T2]))] == [T2]
    with pytest.raises(InvalidSyncInput, match="not registered target"):
        staging_targets(ACCOUNTS, StagingSyncInput(targetAccounts=[S1]))


# ------------------------------------------------------------------ plan statuses


def row(account, region, count, minutes=5):
    ts = iso(NOW - timedelta(minutes=minutes))
    return RegionStatus(accountId=account, region=region, serverCount=count, lastChecked=ts, lastSuccess=ts)


def staging_plan(statuses, request=None, accounts=ACCOUNTS):
    request = request or StagingSyncInput()
    targets = staging_targets(accounts, request)
    return build_plan(
        request=request,
        registered_accounts=[a.accountId for a in targets],
        all_regions=REGIONS,
        statuses=staging_plan_statuses(statuses, accounts),
        filtering=True,
        discovery_age=timedelta(hours=6),
        now=NOW,
    )


# Every staging account has a fresh row in every region; the counts are random.
staging_counts = st.fixed_dictionaries(
    {a: st.dictionaries(st.sampled_from(REGIONS), st.integers(1, 500), max_size=6) for a in (S1, S2)}
)


@settings(max_examples=300, deadline=None)
@given(staging_counts)
def test_a_target_region_is_planned_exactly_when_a_trusted_staging_account_has_servers_there(counts):
    statuses = [row(a, r, counts[a].get(r, 0)) for a in (S1, S2) for r in REGIONS]
    plan = staging_plan(statuses)
    expected = {(T1, r) for r in REGIONS if counts[S1].get(r) or counts[S2].get(r)}
    expected |= {(T2, r) for r in REGIONS if counts[S2].get(r)}
    assert {(i["accountId"], i["region"]) for i in plan.items} == expected
    assert plan.decision == "filtered"
    assert set(plan.active_regions) == {r for a in (S1, S2) for r in counts[a]}


def test_a_staging_account_never_scanned_plans_every_region_of_its_targets():
    statuses = [row(S1, r, 0) for r in REGIONS]  # S2 has no rows: a new account
    plan = staging_plan(statuses)
    assert {i["accountId"] for i in plan.items} == {T1, T2}
    assert len(plan.items) == 2 * len(REGIONS)


def test_stale_staging_rows_are_rediscovered_and_fallbacks_are_kept():
    statuses = [row(a, r, 0, minutes=10) for a in (S1, S2) for r in REGIONS]
    statuses[0] = row(S1, REGIONS[0], 0, minutes=7 * 60)  # last checked 7 h ago, discovery age 6 h
    plan = staging_plan(statuses)
    assert {(i["accountId"], i["region"]) for i in plan.items} == {(T1, REGIONS[0])}
    assert staging_plan(None).decision == "fallback_error"
    assert staging_plan([]).decision == "fallback_empty"
    assert staging_plan_statuses(None, ACCOUNTS) is None
    assert staging_plan_statuses([], ACCOUNTS) == []


def test_target_accounts_narrow_the_plan():
    statuses = [row(a, r, 3) for a in (S1, S2) for r in REGIONS[:2]]
    plan = staging_plan(statuses, StagingSyncInput(targetAccounts=[T2]))
    assert {i["accountId"] for i in plan.items} == {T2}


# ------------------------------------------------------------------ fake DRS (one per region)


class FakePaginator:
    def __init__(self, drs, op):
        self.drs, self.op = drs, op

    def paginate(self, **kwargs):
        self.drs.calls.append((self.op, self.drs.region))
        if self.op == "list_extensible_source_servers":
            items = self.drs.extensible.get(kwargs["stagingAccountID"], [])
        else:
            wanted = set(kwargs["filters"]["stagingAccountIDs"])
            items = [s for s in self.drs.extended if s["stagingArea"]["stagingAccountID"] in wanted]
        size = kwargs["PaginationConfig"]["PageSize"]
        for i in range(0, max(len(items), 1), size):
            yield {"items": items[i : i + size]}


class FakeDrs:
    def __init__(self, region, extensible=None, errors=None):
        self.region = region
        self.extensible = extensible or {}
        self.extended = []
        self.errors = errors or {}  # arn -> (code, message)
        self.calls = []

        class Meta:
            region_name = region

        self.meta = Meta

    def get_paginator(self, op):
        return FakePaginator(self, op)

    def create_extended_source_server(self, sourceServerArn, tags=None):
        self.calls.append(("create_extended_source_server", self.region))
        if sourceServerArn in self.errors:
            code, message = self.errors[sourceServerArn]
            raise ClientError({"Error": {"Code": code, "Message": message}}, "CreateExtendedSourceServer")
        staging = sourceServerArn.split(":")[4]
        server = {
            "arn": sourceServerArn.replace(staging, T1).replace("s-0", "s-9"),
            "stagingArea": {
                "status": "EXTENDED",
                "stagingAccountID": staging,
                "stagingSourceServerArn": sourceServerArn,
            },
        }
        self.extended.append(server)
        for servers in self.extensible.values():
            servers[:] = [s for s in servers if s["arn"] != sourceServerArn]
        return {"sourceServer": server}


def arn(account, region, n):
    return f"arn:aws:drs:{region}:{account}:source-server/s-0{n:016d}"


def fleet_of(regions, per_region=2):
    return {
        r: FakeDrs(
            r,
            {
                S1: [{"arn": arn(S1, r, i), "hostname": f"h{i}", "tags": {"App": "x"}} for i in range(per_region)],
                S2: [{"arn": arn(S2, r, 100 + i), "hostname": f"g{i}", "tags": {}} for i in range(per_region)],
            },
        )
        for r in regions
    }


class NullStore(ExtensionStore):
    """A store that remembers nothing: enough where only the DRS side is under test."""

    def __init__(self):
        super().__init__(table=None)

    def failures(self, target, region):
        return {}

    def record_failure(self, failure, **kw):
        return kw

    def record_quota(self, **kw):
        return kw

    def clear_failures(self, *a):
        pass

    def record_extension(self, extension, **kw):
        return kw


def touched(fakes):
    return {region for region, d in fakes.items() if d.calls}


@settings(max_examples=100, deadline=None)
@given(active=st.lists(st.sampled_from(REGIONS), min_size=1, max_size=8, unique=True))
def test_property_11_the_named_functions_touch_exactly_the_active_regions(active):
    # Given DRS clients for every region, and the active regions the plan resolved
    fakes = fleet_of(REGIONS)
    drs_for = fakes.__getitem__
    # When each named function runs with the active regions
    listed = get_staging_account_servers(drs_for, S1, active)
    assert set(listed) == set(active) and touched(fakes) == set(active)
    fakes = fleet_of(REGIONS)
    extended = get_extended_source_servers(fakes.__getitem__, [S1, S2], active)
    assert set(extended) == set(active) and touched(fakes) == set(active)
    fakes = fleet_of(REGIONS)
    target = AccountRecord(accountId=T1, kind="target", stagingAccounts=[S1, S2])
    run = ExtendRun(execution_arn="arn:x", run_id="r", now=NOW)
    report = auto_extend_staging_servers(target, active, drs_for=fakes.__getitem__, store=NullStore(), run=run)
    # Then only the active regions were called, and every extensible server there was extended once
    assert touched(fakes) == set(active)
    assert report.counts["serversExtended"] == 4 * len(active)
    assert all(len(fakes[r].extended) == 4 for r in active)


def test_extend_source_server_refuses_a_region_outside_the_active_ones():
    fake = FakeDrs("eu-west-1")
    with pytest.raises(RegionNotActive):
        extend_source_server(fake, arn(S1, "eu-west-1", 1), ["us-east-1"])
    assert fake.calls == []


@pytest.mark.parametrize(
    ("code", "message", "outcome"),
    [
        ("ValidationException", "Source server x is already extended into this account", "already_extended"),
        ("ValidationException", "The staging account uses the default AWS managed EBS key", "failed"),
        ("ServiceQuotaExceededException", "300 replicating source servers", "failed"),
        ("ThrottlingException", "Rate exceeded", "throttled"),
        ("AccessDeniedException", "not trusted", "failed"),
    ],
)
def test_extension_errors_are_classified(code, message, outcome):
    a = arn(S1, "us-east-1", 1)
    fake = FakeDrs("us-east-1", errors={a: (code, message)})
    result = extend_source_server(fake, a, ["us-east-1"])
    assert result.outcome == outcome and result.code == code


def test_extend_passes_the_staging_tags_without_aws_keys():
    fake = FakeDrs("us-east-1")
    seen = {}
    original = fake.create_extended_source_server

    def spy(**kwargs):
        seen.update(kwargs)
        return original(**kwargs)

    setattr(fake, "create_extended_source_server", spy)  # noqa: B010
    extend_source_server(fake, arn(S1, "us-east-1", 1), ["us-east-1"], tags={"App": "x", "aws:foo": "y"})
    assert seen["tags"] == {"App": "x"}


# ------------------------------------------------------------------ backoff


def test_backoff_grows_from_15_minutes_to_a_day():
    delays = [backoff(n) for n in range(1, 12)]
    assert delays[0] == timedelta(minutes=15)
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert delays[-1] == BACKOFF_MAX == timedelta(hours=24)
    assert backoff(10_000) == BACKOFF_MAX


def test_deferred_until_the_next_attempt_is_due():
    rec = {"nextAttemptAt": iso(NOW + timedelta(minutes=1))}
    assert is_deferred(rec, NOW) and not is_deferred(rec, NOW + timedelta(minutes=2))
    assert not is_deferred(None, NOW) and not is_deferred({}, NOW)


# ------------------------------------------------------------------ with a real table (moto)


@pytest.fixture()
def store():
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        table = ddb.create_table(
            TableName="extensions",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield ExtensionStore(table)


TARGET = AccountRecord(accountId=T1, kind="target", stagingAccounts=[S1, S2])


def run(fakes, store, region="us-east-1", **kw):
    options = ExtendRun(execution_arn="arn:exec", run_id="run-1", **kw)
    return auto_extend_staging_servers(TARGET, [region], drs_for=fakes.__getitem__, store=store, run=options)


def creates(fake):
    return sum(1 for op, _ in fake.calls if op == "create_extended_source_server")


def test_a_permanent_failure_is_remembered_and_deferred(store):
    fakes = fleet_of(["us-east-1"])
    bad = arn(S1, "us-east-1", 0)
    fakes["us-east-1"].errors[bad] = ("ValidationException", "default EBS encryption key cannot be shared")
    first = run(fakes, store)
    assert first.counts["serversExtended"] == 3 and first.counts["serversFailed"] == 1
    assert [(n.kind, n.record["stagingServerArn"]) for n in first.notes] == [("extension failed", bad)]
    record = store.failures(T1, "us-east-1")[bad]
    assert record["attempts"] == 1 and record["errorCode"] == "ValidationException"
    # The next run (5 minutes later) does not retry it
    before = creates(fakes["us-east-1"])
    second = run(fakes, store, now=datetime.now(UTC) + timedelta(minutes=5))
    assert second.counts["serversDeferred"] == 1 and creates(fakes["us-east-1"]) == before
    # The API reads it, still deferred
    [failure] = get_extension_failures(store.table, target_account_id=T1, regions=["us-east-1"])
    assert failure["deferred"] is True and failure["stagingServerArn"] == bad
    assert get_extension_failures(store.table)[0]["stagingServerArn"] == bad
    # Once due, it is retried; failing again doubles the delay
    third = run(fakes, store, now=datetime.now(UTC) + timedelta(minutes=16))
    assert third.counts["serversFailed"] == 1
    record = store.failures(T1, "us-east-1")[bad]
    assert record["attempts"] == 2
    # When the cause is fixed, the retry succeeds and the failure is forgotten
    del fakes["us-east-1"].errors[bad]
    fourth = run(fakes, store, now=datetime.now(UTC) + timedelta(hours=2))
    assert fourth.counts["serversExtended"] == 1
    assert store.failures(T1, "us-east-1") == {}


def test_every_extension_is_audited(store):
    fakes = fleet_of(["us-east-1"])
    run(fakes, store)
    audit = get_extension_audit(store.table, T1, ["us-east-1"])
    assert len(audit) == 4
    assert {a["stagingAccountId"] for a in audit} == {S1, S2}
    assert all(a["executionArn"] == "arn:exec" and a["targetAccountId"] == T1 for a in audit)
    assert all(a["extendedServerArn"] and a["extendedAt"] for a in audit)


def test_the_quota_defers_the_whole_target_region(store):
    fakes = fleet_of(["us-east-1"], per_region=5)
    fake = fakes["us-east-1"]
    for servers in fake.extensible.values():
        for s in servers:
            fake.errors[s["arn"]] = ("ServiceQuotaExceededException", "300 replicating source servers")
    first = run(fakes, store, concurrency=1)
    assert first.counts["serversFailed"] == 1 and first.counts["serversDeferred"] == 9
    assert QUOTA_SK in store.failures(T1, "us-east-1")
    second = run(fakes, store, now=datetime.now(UTC) + timedelta(minutes=5))
    assert second.counts["serversDeferred"] == 10 and creates(fake) == 1


def test_a_dry_run_lists_candidates_and_writes_nothing(store):
    fakes = fleet_of(["us-east-1"])
    report = run(fakes, store, dry_run=True)
    assert report.counts["serversToExtend"] == 4 and report.counts["serversExtended"] == 0
    assert creates(fakes["us-east-1"]) == 0
    assert store.table.scan()["Items"] == []
    assert [n.kind for n in report.notes] == ["would extend"] * 4


def test_an_untrusted_staging_account_does_not_stop_the_others(store):
    fakes = fleet_of(["us-east-1"])
    fake = fakes["us-east-1"]
    paginator = fake.get_paginator

    def get_paginator(op):
        p = paginator(op)
        original = p.paginate

        def paginate(**kw):
            if kw.get("stagingAccountID") == S2:
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "List")
            return original(**kw)

        p.paginate = paginate
        return p

    fake.get_paginator = get_paginator
    report = run(fakes, store)
    assert report.counts["serversExtended"] == 2 and report.counts["stagingAccountErrors"] == 1
    assert any(S2 in w for w in report.warnings)


def test_summary_lifts_failures_and_dry_run():
    failure: dict[str, str | None] = {
        "code": "ValidationException",
        "region": "us-east-1",
        "stagingServerArn": "a",
        "targetAccountId": T1,
    }
    results = [
        ItemResult(
            accountId=T1,
            region="us-east-1",
            status="AVAILABLE",
            ok=True,
            counts={"serversFailed": 1, "serversExtended": 2},
            warnings=["staging account x: AccessDeniedException: no"],
            notes=[ItemNote(kind="extension failed", record=failure)],
        )
    ]
    run_state = RunRecord(
        sync="staging", runId="r", executionArn="arn", decision="filtered", pairsSkipped=3, options={"dryRun": False}
    )
    summary = build_summary(sync_spec("staging"), run_state, results).dump()
    assert summary["dryRun"] is False and summary["serversFailed"] == 1 and summary["serversExtended"] == 2
    assert summary["failures"] == [failure]
    assert "wouldExtend" not in summary and "targetAccounts" not in summary
    assert summary["callsSavedVsAllRegions"] == 3 * 2


def test_a_dry_run_summary_lists_its_candidates_and_its_targets():
    candidate = {"region": "us-east-1", "stagingServerArn": "a", "targetAccountId": T1, "hostname": None}
    results = [
        ItemResult(
            accountId=T1,
            region="us-east-1",
            status="AVAILABLE",
            ok=True,
            counts={"serversToExtend": 1},
            notes=[ItemNote(kind="would extend", record=candidate)],
        )
    ]
    options = {"dryRun": True, "targetAccounts": [T1]}
    run_state = RunRecord(sync="staging", runId="r", executionArn="arn", decision="filtered", options=options)
    summary = build_summary(sync_spec("staging"), run_state, results).dump()
    assert summary["wouldExtend"] == [candidate] and summary["targetAccounts"] == [T1]
    assert summary["serversToExtend"] == 1 and summary["failures"] == [] and summary["wouldExtendOmitted"] == 0


def test_a_dry_run_summary_says_how_many_candidates_it_leaves_out():
    # Given 4 work items of 20 candidates each, of which each item carries its first 15 (the notes' cap)
    def item(region: str) -> ItemResult:
        records: list[dict[str, str | None]] = [
            {"region": region, "stagingServerArn": f"s-{i}", "targetAccountId": T1} for i in range(20)
        ]
        notes = [ItemNote(kind="would extend", record=r) for r in records][:MAX_NOTES_PER_ITEM]
        return ItemResult(
            accountId=T1, region=region, status="AVAILABLE", ok=True, counts={"serversToExtend": 20}, notes=notes
        )

    results = [item(r) for r in ("eu-west-1", "us-east-1", "us-east-2", "us-west-2")]
    run_state = RunRecord(sync="staging", runId="r", executionArn="arn", decision="filtered", options={"dryRun": True})
    summary = build_summary(sync_spec("staging"), run_state, results).dump()
    # Then the summary lists the first 50 and counts the 30 it leaves out
    assert summary["serversToExtend"] == 80 and len(summary["wouldExtend"]) == MAX_ERRORS_IN_SUMMARY == 50
    assert summary["wouldExtendOmitted"] == 80 - 50


def test_an_extension_still_throttled_after_the_sdk_is_tried_once_more(store, monkeypatch):
    # Given one staging server whose extension is throttled once more after the SDK's own retries
    monkeypatch.setattr(extend, "RETHROTTLE_PAUSE_SECONDS", 0)
    fakes = fleet_of(["us-east-1"])
    fake = fakes["us-east-1"]
    throttled = arn(S1, "us-east-1", 0)
    fake.errors[throttled] = ("ThrottlingException", "Rate exceeded")
    create = fake.create_extended_source_server

    def once_throttled(sourceServerArn, tags=None):
        try:
            return create(sourceServerArn, tags)
        finally:
            fake.errors.pop(sourceServerArn, None)

    fake.create_extended_source_server = once_throttled
    # When the staging sync extends the target
    report = run(fakes, store)
    # Then the second pass extended it: every server is extended, nothing is handed back
    assert report.counts["serversExtended"] == 4 and report.counts["serversThrottled"] == 0
    assert report.throttled is None and creates(fake) == 5
    assert len(get_extension_audit(store.table, T1, ["us-east-1"])) == 4


def test_an_extension_throttled_on_both_passes_hands_the_item_back(store, monkeypatch):
    monkeypatch.setattr(extend, "RETHROTTLE_PAUSE_SECONDS", 0)
    fakes = fleet_of(["us-east-1"])
    throttled = arn(S2, "us-east-1", 100)
    fakes["us-east-1"].errors[throttled] = ("ThrottlingException", "Rate exceeded")
    report = run(fakes, store)
    assert report.counts["serversExtended"] == 3 and report.counts["serversThrottled"] == 1
    assert report.throttled is not None and report.throttled.response["Error"]["Code"] == "ThrottlingException"
    assert store.failures(T1, "us-east-1") == {}  # throttling is not a failure to back off from
