"""Faults behave as AWS does: throttling with Retry-After, AccessDenied, uninitialized and not-enabled
regions, modelled errors with messages, latency; counters record calls and outcomes."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff

from sandbox.drs import FaultError, clock
from sandbox.drs.faults import Fault, TokenBucket, parse_faults

TARGET, OTHER, STAGING = "111111111111", "222222222222", "333333333333"


@pytest.fixture
def fast_retries(monkeypatch):
    """botocore's standard mode waits up to 1 s * 2^n between throttled attempts; tests wait 50 ms."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.05)


def _error(fn):
    with pytest.raises(ClientError) as e:
        fn()
    return e.value.response


def test_throttling_answers_429_with_retry_after_then_standard_retries_succeed(sim, drs, fast_retries):
    sim.set_faults(
        [{"accountId": "*", "region": "eu-west-1", "operation": "DescribeSourceServers", "throttleTps": 10, "burst": 2}]
    )
    once = drs(TARGET, "eu-west-1", retries={"mode": "standard", "total_max_attempts": 1})
    outcomes = []
    for _ in range(4):
        try:
            once.describe_source_servers()
            outcomes.append("OK")
        except ClientError as e:
            r = e.response
            outcomes.append(r["Error"]["Code"])
            assert r["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert r["retryAfterSeconds"] == "1"
            assert r["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
            assert r["serviceCode"] == "drs" and r["quotaCode"]
    assert outcomes[:2] == ["OK", "OK"] and "ThrottlingException" in outcomes[2:]
    assert once.describe_jobs()["items"] == []  # other operations are not limited by this fault

    sim.reset_counters()
    retrying = drs(TARGET, "eu-west-1", retries={"mode": "standard", "total_max_attempts": 10})
    attempts = [retrying.describe_source_servers()["ResponseMetadata"]["RetryAttempts"] for _ in range(6)]
    assert sum(attempts) > 0
    snapshot = sim.counters_snapshot()
    outcome = {o["outcome"]: o["calls"] for o in snapshot["outcomes"]}
    assert outcome["OK"] == 6 and outcome["ThrottlingException"] == sum(attempts)
    assert snapshot["total"] == 6 + sum(attempts)
    assert (
        drs(TARGET, "us-east-1", retries={"mode": "standard", "total_max_attempts": 1}).describe_source_servers()[
            "items"
        ]
        == []
    )


def test_access_denied_for_one_account_only(sim, drs):
    sim.set_faults([{"accountId": OTHER, "region": "*", "accessDenied": True}])
    r = _error(lambda: drs(OTHER, "us-west-2").describe_source_servers())
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDeniedException", 403)
    assert "drs:DescribeSourceServers" in r["Error"]["Message"]
    assert drs(TARGET, "us-west-2").describe_source_servers()["items"] == []


def test_uninitialized_region_then_initialize_service(sim, drs):
    sim.set_initialized(TARGET, "ap-south-1", False)
    c = drs(TARGET, "ap-south-1")
    r = _error(c.describe_source_servers)
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("UninitializedAccountException", 400)
    assert r["code"] == "UninitializedAccountException"
    assert c.initialize_service()["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert c.describe_source_servers()["items"] == []
    assert len(c.describe_replication_configuration_templates()["items"]) == 1


def test_uninitialized_fault_only_affects_operations_that_model_it(sim, drs, seed_servers):
    seed_servers(n=1)
    sim.set_faults([{"accountId": TARGET, "region": "us-east-1", "uninitialized": True}])
    c = drs()
    assert _error(c.describe_source_servers)["Error"]["Code"] == "UninitializedAccountException"
    arn = f"arn:aws:drs:us-east-1:{TARGET}:source-server/s-00000000000000000"
    # TagResource does not list UninitializedAccountException in the model
    assert _error(lambda: c.list_tags_for_resource(resourceArn=arn))["Error"]["Code"] == "ResourceNotFoundException"


def test_region_not_enabled_answers_like_a_disabled_opt_in_region(sim, drs):
    sim.set_region_enabled(TARGET, "af-south-1", False)
    r = _error(drs(TARGET, "af-south-1").describe_source_servers)
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("UnrecognizedClientException", 403)
    assert r["Error"]["Message"] == "The security token included in the request is invalid."
    sim.set_faults([{"accountId": OTHER, "region": "me-south-1", "notEnabled": True}])
    r = _error(drs(OTHER, "me-south-1").list_staging_accounts)
    assert r["Error"]["Code"] == "UnrecognizedClientException"
    assert drs(TARGET, "me-south-1").list_staging_accounts()["accounts"] == []


def test_modelled_error_fault_with_message_on_create_extended_source_server(sim, drs, seed_servers):
    sim.trust_staging(TARGET, [STAGING, "444444444444"])
    staging_ids = seed_servers(STAGING, n=2)
    other_ids = seed_servers("444444444444", n=1)
    message = "The staging account uses the default EBS encryption key, which cannot be shared"
    sim.set_faults(
        [
            {
                "accountId": TARGET,
                "operation": "CreateExtendedSourceServer",
                "stagingAccountId": STAGING,
                "error": "ValidationException",
                "message": message,
            }
        ]
    )
    c = drs()
    arn = f"arn:aws:drs:us-east-1:{STAGING}:source-server/{staging_ids[0]}"
    r = _error(lambda: c.create_extended_source_server(sourceServerArn=arn))
    assert (r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ValidationException",
        message,
        400,
    )
    other = f"arn:aws:drs:us-east-1:444444444444:source-server/{other_ids[0]}"
    assert c.create_extended_source_server(sourceServerArn=other)["sourceServer"]["stagingArea"]["status"] == "EXTENDED"


def test_replicating_server_quota_on_create_extended_source_server(sim, drs, seed_servers):
    sim.configure(max_replicating_servers=3)
    sim.trust_staging(TARGET, [STAGING])
    seed_servers(TARGET, n=2)
    staging_ids = seed_servers(STAGING, n=2)
    c = drs()
    c.create_extended_source_server(sourceServerArn=f"arn:aws:drs:us-east-1:{STAGING}:source-server/{staging_ids[0]}")
    r = _error(
        lambda: c.create_extended_source_server(
            sourceServerArn=f"arn:aws:drs:us-east-1:{STAGING}:source-server/{staging_ids[1]}"
        )
    )
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("ServiceQuotaExceededException", 402)
    assert r["serviceCode"] == "drs" and r["quotaCode"] and r["resourceType"] == "SOURCE_SERVER"


def test_latency_fault_is_measurable(sim, drs):
    c = drs(TARGET, "eu-west-2")
    c.describe_source_servers()
    sim.set_faults([{"region": "eu-west-2", "operation": "DescribeSourceServers", "latencyMs": 150}])

    def timed(fn):
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    slow, fast = timed(c.describe_source_servers), timed(c.describe_jobs)
    assert slow >= 0.15 and slow - fast >= 0.1
    sim.configure(latency_ms=100)  # fleet-wide latency adds to every call
    assert timed(c.describe_jobs) >= 0.1


def test_error_rate_times_and_wildcard_operations(sim, drs):
    sim.set_faults([{"operations": ["DescribeJobs", "DescribeSourceServers"], "errorRate": 1.0, "times": 2}])
    c = drs(retries={"mode": "standard", "total_max_attempts": 1})
    r = _error(c.describe_jobs)
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("InternalServerException", 500)
    assert _error(c.describe_source_servers)["Error"]["Code"] == "InternalServerException"
    assert c.describe_jobs()["items"] == []  # fired twice: exhausted
    sim.set_faults([{"error": "ConflictException", "message": "busy"}])
    assert c.describe_jobs()["items"] == []  # DescribeJobs cannot answer ConflictException: untouched
    arn = "s-00000000000000000"
    assert _error(lambda: c.disconnect_source_server(sourceServerID=arn))["Error"]["Message"] == "busy"


def test_counters_per_operation_and_outcome(sim, drs):
    sim.set_initialized(TARGET, "ap-south-1", False)
    drs().describe_source_servers()
    drs().describe_source_servers()
    with pytest.raises(ClientError):
        drs(TARGET, "ap-south-1").describe_jobs()
    snapshot = sim.counters_snapshot()
    assert {"accountId": TARGET, "region": "us-east-1", "operation": "DescribeSourceServers", "calls": 2} in snapshot[
        "calls"
    ]
    assert {
        "accountId": TARGET,
        "region": "ap-south-1",
        "operation": "DescribeJobs",
        "outcome": "UninitializedAccountException",
        "calls": 1,
    } in snapshot["outcomes"]
    assert snapshot["total"] == 3
    sim.reset_counters()
    assert sim.counters_snapshot() == {"calls": [], "outcomes": [], "total": 0}


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"region": "xx-east-9", "latencyMs": 1}, "faults[0].region: 'xx-east-9' is not a DRS region"),
        ({"operation": "DescribeEverything", "latencyMs": 1}, "faults[0].operation: 'DescribeEverything'"),
        ({"accountId": "1234", "accessDenied": True}, "faults[0].accountId: must be '*' or a 12-digit account id"),
        (
            {"operation": "DescribeSourceServers", "error": "ConflictException"},
            "ConflictException is not an error the DRS model defines for DescribeSourceServers",
        ),
        ({"error": "NoSuchError"}, "faults[0].error: 'NoSuchError' is not an error the DRS model defines"),
        ({"latencyMs": -1}, "faults[0].latencyMs: Input should be greater than or equal to 0"),
        ({"throttle_tps": 2}, "faults[0].throttle_tps: unknown field"),
        ({"region": "us-east-1"}, "the fault has no effect"),
        ({"burst": 2, "latencyMs": 5}, "burst needs throttleTps"),
        ({"operation": "DescribeJobs", "operations": ["DescribeJobs"], "latencyMs": 1}, "not both"),
    ],
)
def test_bad_faults_are_rejected_naming_the_field(sim, fault, message):
    with pytest.raises(FaultError) as e:
        sim.set_faults([fault])
    assert message in str(e.value)
    assert sim.faults == []


def test_fault_model_round_trip():
    (fault,) = parse_faults([{"accountId": "*", "region": "eu-west-1", "throttleTps": 2, "burst": 2}])
    assert fault.to_wire() == {"region": "eu-west-1", "throttleTps": 2.0, "burst": 2}
    assert Fault.model_validate(fault.to_wire()) == fault


def test_token_bucket_starts_full_refills_at_its_rate_and_caps_at_burst(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(clock, "monotonic", lambda: now[0])
    bucket = TokenBucket(rate=2, burst=2)
    assert [bucket.take(), bucket.take()] == [0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)  # empty: the next token comes in 1/rate seconds
    now[0] += 0.25
    assert bucket.take() == pytest.approx(0.25)
    now[0] += 0.25
    assert bucket.take() == 0.0
    now[0] += 10  # a long pause refills only up to the burst
    assert [bucket.take(), bucket.take()] == [0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
