"""FastWaits: Retry backoff, Wait states and botocore retries are scaled and recorded, the ASL untouched."""

import json
import time

import boto3
import pytest
from botocore import endpoint
from botocore.retries import bucket
from moto import mock_aws

from sandbox.waits import FastWaits

WAITING = {
    "StartAt": "Wait a while",
    "States": {
        "Wait a while": {"Type": "Wait", "Seconds": 30, "Next": "Wait until the path says"},
        "Wait until the path says": {"Type": "Wait", "SecondsPath": "$.seconds", "End": True},
    },
}


@pytest.fixture()
def sfn(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def run(sfn, definition, payload):
    arn = sfn.create_state_machine(
        name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="e", input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 10
    while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish: waits were not scaled"
        time.sleep(0.01)
    return desc


def test_wait_states_are_scaled_and_recorded(sfn):
    with FastWaits(0.0) as waits:
        started = time.monotonic()
        assert run(sfn, WAITING, {"seconds": 45})["status"] == "SUCCEEDED"
        assert time.monotonic() - started < 5
    assert waits.wait_seconds == [30, 45]


def test_a_small_scale_really_waits_a_little(sfn):
    with FastWaits(0.01) as waits:
        started = time.monotonic()
        assert run(sfn, WAITING, {"seconds": 10})["status"] == "SUCCEEDED"
        assert 0.3 <= time.monotonic() - started < 5
    assert waits.wait_seconds == [30, 10]


def test_botocore_retry_sleeps_are_scaled_and_recorded():
    with FastWaits(0.0) as waits:
        started = time.monotonic()
        endpoint.time.sleep(20)  # what Endpoint._needs_retry does between attempts
        assert endpoint.time.monotonic() > 0  # the rest of the time module is untouched
        assert time.monotonic() - started < 1
    assert waits.sdk_retry_delays == [20.0]
    assert endpoint.time is time


def test_adaptive_token_bucket_does_not_block_for_real():
    token_bucket = bucket.TokenBucket(max_rate=0.5, clock=bucket.Clock())
    with FastWaits(0.0) as waits:
        started = time.monotonic()
        for _ in range(4):
            assert token_bucket.acquire()
        assert time.monotonic() - started < 1
    assert waits.sdk_retry_delays and all(d > 0 for d in waits.sdk_retry_delays)


def test_sdk_scaling_can_be_left_alone_and_everything_is_undone():
    originals = (endpoint.time, bucket.TokenBucket.acquire)
    with FastWaits(0.0, sdk=False):
        assert endpoint.time is time
    with FastWaits(0.0):
        assert endpoint.time is not time
    assert (endpoint.time, bucket.TokenBucket.acquire) == originals
    with pytest.raises(ValueError):
        FastWaits(-1)
