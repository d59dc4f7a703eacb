"""EC2 and STS faults: the fleet's `"service": "ec2" | "sts"` faults answer real boto3 calls with AWS's codes.

Throttles and latency run on the sandbox clock; a fault matches only its service, account, region and operation;
a bad fault is refused with the field that is wrong.
"""

import boto3
import botocore.config
import botocore.exceptions
import pytest

from sandbox import Sandbox
from sandbox.drs import clock
from sandbox.fleet import FleetError, load_fleet
from sandbox.runtime import account_keys

ACCOUNT, OTHER = "111111111111", "222222222222"
REGION = "eu-west-1"
OPT_IN = "ap-east-1"  # an opt-in region: ACCOUNT has not enabled it, OTHER has
FLEET = {
    "accounts": [
        {"accountId": ACCOUNT, "regions": {REGION: {"sourceServers": 1}}},
        {"accountId": OTHER, "enabledRegions": [OPT_IN]},
    ]
}
KEYS: dict[str, tuple[str, str]] = {}  # one access key per account (IAM allows two a user)
NO_RETRY = botocore.config.Config(retries={"mode": "standard", "max_attempts": 1})


@pytest.fixture(scope="module")
def sb():
    KEYS.clear()
    with Sandbox(fleet=FLEET) as box:
        yield box


@pytest.fixture(autouse=True)
def no_faults(sb):
    yield
    sb.set_faults([])


def _client(sb, service, account, region, config=NO_RETRY):
    """A client acting as `account` that does not retry (each call is one request)."""
    if account not in KEYS:
        KEYS[account] = ("testing", "testing") if account == sb.account else account_keys(account, sb.region)
    key, secret = KEYS[account]
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret)
    return session.client(service, region_name=region, config=config)


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(
    ("fault", "answer"),
    [
        ({"accessDenied": True}, ("UnauthorizedOperation", 403)),
        ({"notEnabled": True}, ("AuthFailure", 401)),
        ({"error": "InternalError"}, ("InternalError", 500)),
        ({"errorRate": 1.0}, ("InternalError", 500)),
        ({"error": "Unavailable", "errorRate": 1.0}, ("Unavailable", 503)),
    ],
)
def test_an_ec2_fault_answers_ec2s_own_code(sb, fault, answer):
    sb.set_faults(
        [{"service": "ec2", "accountId": ACCOUNT, "region": REGION, "operation": "DescribeInstances", **fault}]
    )
    assert error_of(_client(sb, "ec2", ACCOUNT, REGION).describe_instances) == answer
    # only that operation, account and region
    assert "Vpcs" in _client(sb, "ec2", ACCOUNT, REGION).describe_vpcs()
    assert "Reservations" in _client(sb, "ec2", OTHER, REGION).describe_instances()
    assert "Reservations" in _client(sb, "ec2", ACCOUNT, "us-east-1").describe_instances()


def test_an_ec2_throttle_is_request_limit_exceeded_and_its_bucket_refills_on_the_sandbox_clock(sb):
    sb.set_faults([{"service": "ec2", "accountId": ACCOUNT, "operation": "DescribeInstances", "throttleTps": 1}])
    ec2 = _client(sb, "ec2", ACCOUNT, REGION)
    ec2.describe_instances()
    assert error_of(ec2.describe_instances) == ("RequestLimitExceeded", 503)
    sb.advance(1.0)
    assert "Reservations" in ec2.describe_instances()


def test_a_throttled_ec2_call_is_retried_by_botocore_as_throttling(sb):
    sb.set_faults([{"service": "ec2", "accountId": ACCOUNT, "operation": "DescribeInstances", "throttleTps": 0.001}])
    retrying = botocore.config.Config(retries={"mode": "standard", "max_attempts": 3})
    ec2 = _client(sb, "ec2", ACCOUNT, REGION, retrying)
    ec2.describe_instances()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances()
    assert e.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert e.value.response["ResponseMetadata"]["RetryAttempts"] >= 2


def test_ec2_latency_is_spent_on_the_sandbox_clock(sb):
    sb.set_faults([{"service": "ec2", "accountId": ACCOUNT, "latencyMs": 30_000}])
    before = clock.monotonic()
    _client(sb, "ec2", ACCOUNT, REGION).describe_instances()
    assert clock.monotonic() - before >= 30.0
    before = clock.monotonic()
    _client(sb, "ec2", OTHER, REGION).describe_instances()
    assert clock.monotonic() - before < 30.0


@pytest.mark.parametrize(
    ("fault", "answer"),
    [
        ({"accessDenied": True}, ("AccessDenied", 403)),
        ({"notEnabled": True}, ("RegionDisabledException", 403)),
        ({"errorRate": 1.0}, ("InternalFailure", 500)),
        ({"error": "ExpiredTokenException"}, ("ExpiredTokenException", 400)),
    ],
)
def test_an_sts_fault_answers_stss_own_code(sb, fault, answer):
    sb.set_faults(
        [{"service": "sts", "accountId": ACCOUNT, "region": REGION, "operation": "GetCallerIdentity", **fault}]
    )
    assert error_of(_client(sb, "sts", ACCOUNT, REGION).get_caller_identity) == answer
    assert _client(sb, "sts", OTHER, REGION).get_caller_identity()["Account"] == OTHER


def test_an_sts_throttle_is_throttling(sb):
    sb.set_faults([{"service": "sts", "operation": "GetCallerIdentity", "throttleTps": 0.001}])
    sts = _client(sb, "sts", ACCOUNT, REGION)
    sts.get_caller_identity()
    assert error_of(sts.get_caller_identity) == ("Throttling", 400)


def test_an_assume_role_fault_matches_the_account_of_the_role_not_the_caller(sb):
    role = f"arn:aws:iam::{ACCOUNT}:role/{sb.cross_account_role_name}"
    sb.set_faults(
        [{"service": "sts", "accountId": ACCOUNT, "operation": "AssumeRole", "error": "RegionDisabledException"}]
    )
    sts = _client(sb, "sts", sb.account, REGION)  # the stack's account assumes ACCOUNT's role
    assert error_of(lambda: sts.assume_role(RoleArn=role, RoleSessionName="probe")) == ("RegionDisabledException", 403)


def test_an_opt_in_region_the_account_has_not_enabled_answers_each_service_as_aws_does(sb):
    role = f"arn:aws:iam::{ACCOUNT}:role/{sb.cross_account_role_name}"
    sts = _client(sb, "sts", sb.account, OPT_IN)  # the hub asks ap-east-1's own STS endpoint for ACCOUNT's role
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn=role, RoleSessionName="probe")
    assert (e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "RegionDisabledException",
        403,
    )
    assert f"STS is not activated in this region for account:{ACCOUNT}" in e.value.response["Error"]["Message"]
    # ACCOUNT's own credentials are not valid there, for STS, EC2 or DRS
    assert error_of(_client(sb, "sts", ACCOUNT, OPT_IN).get_caller_identity) == ("InvalidClientTokenId", 403)
    assert error_of(_client(sb, "ec2", ACCOUNT, OPT_IN).describe_instances) == ("AuthFailure", 401)
    assert error_of(_client(sb, "drs", ACCOUNT, OPT_IN).describe_source_servers) == (
        "UnrecognizedClientException",
        403,
    )
    # the hub region's STS and a region OTHER enabled answer on: the role's trust decides (no ExternalId here)
    hub_sts = _client(sb, "sts", sb.account, sb.region)
    assert error_of(lambda: hub_sts.assume_role(RoleArn=role, RoleSessionName="probe")) == ("AccessDenied", 403)
    other_role = f"arn:aws:iam::{OTHER}:role/{sb.cross_account_role_name}"
    assert error_of(lambda: sts.assume_role(RoleArn=other_role, RoleSessionName="probe")) == ("AccessDenied", 403)
    assert "Reservations" in _client(sb, "ec2", OTHER, OPT_IN).describe_instances()


def test_the_product_assumes_roles_through_its_own_regions_sts_endpoint_only(sb):
    """The layer's STS client is the hub region's regional endpoint (botocore's default, pinned in the layer),
    whose credentials AWS accepts in every region: no pair's region is ever asked for credentials."""
    from fleet_sync.core import aws

    assert aws.client("sts").meta.endpoint_url == f"https://sts.{sb.region}.amazonaws.com"


def test_drs_faults_do_not_touch_ec2_and_ec2_faults_do_not_touch_drs(sb):
    sb.set_faults([{"accountId": ACCOUNT, "accessDenied": True}])
    assert "Reservations" in _client(sb, "ec2", ACCOUNT, REGION).describe_instances()
    sb.set_faults([{"service": "ec2", "accountId": ACCOUNT, "accessDenied": True}])
    assert _client(sb, "drs", ACCOUNT, REGION).describe_source_servers()["items"]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"service": "ec2", "operation": "DescribeSourceServers", "accessDenied": True}, "faults[0].operation"),
        ({"service": "sts", "operation": "AssumeRole", "error": "ThrottlingException"}, "faults[0].error"),
        ({"service": "ec2", "error": "AccessDeniedException"}, "faults[0].error"),
        ({"service": "ec2", "region": "eu-west-9", "accessDenied": True}, "faults[0].region"),
        ({"service": "s3", "accessDenied": True}, "faults[0].service"),
        ({"service": "ec2", "uninitialized": True}, "uninitialized and stagingAccountId apply to DRS faults only"),
        ({"service": "sts", "operation": "AssumeRole"}, "the fault has no effect"),
    ],
)
def test_a_bad_service_fault_is_refused_naming_the_field(fault, message):
    with pytest.raises(FleetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_fleet({**FLEET, "faults": [fault]})
