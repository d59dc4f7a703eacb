"""ClockWaits: Retry backoff, Wait states and botocore retries wait on the sandbox clock and are recorded, the ASL
untouched."""

import json
import threading
import time

import boto3
import pytest
from botocore import endpoint
from botocore.retries import bucket
from moto import mock_aws

from sandbox.clock import RealClock, VirtualClock
from sandbox.waits import ClockWaits

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


def run(sfn, definition, payload, pause=lambda: time.sleep(0.01)):
    arn = sfn.create_state_machine(
        name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="e", input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 60
    while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish: waits were not on the clock"
        pause()
    return desc


@pytest.fixture()
def virtual():
    clock = VirtualClock().start()
    yield clock
    clock.stop()


def test_wait_states_take_clock_time_not_real_time(sfn, virtual):
    with ClockWaits(virtual) as waits:
        # The poll waits on the clock too (as Sandbox.wait does): then every thread waits, and time jumps
        pause = lambda: virtual.wait_until(None, None, poll=0.05, real_limit=0.2)  # noqa: E731
        assert run(sfn, WAITING, {"seconds": 45}, pause)["status"] == "SUCCEEDED"
    assert waits.wait_seconds == [30, 45]
    assert virtual.elapsed() >= 75  # the clock went through both waits
    assert virtual.jumped >= 60  # skipping them, not waiting for them


def test_a_fast_real_clock_really_waits_a_little(sfn):
    clock = RealClock(speed=100)
    with ClockWaits(clock) as waits:
        started = time.monotonic()
        assert run(sfn, WAITING, {"seconds": 10})["status"] == "SUCCEEDED"
        assert 0.3 <= time.monotonic() - started < 5
    assert waits.wait_seconds == [30, 10]


def test_botocore_retry_sleeps_take_clock_time(virtual):
    with ClockWaits(virtual) as waits:
        clock_started = virtual.monotonic()
        endpoint.time.sleep(20)  # what Endpoint._needs_retry does between attempts
        assert endpoint.time.monotonic() >= clock_started + 20  # the module's clock is the sandbox's
        assert virtual.jumped >= 15  # skipped, not waited for
    assert waits.sdk_retry_delays == [20.0]
    assert endpoint.time is time


def test_adaptive_token_bucket_refills_on_the_clock(virtual):
    token_bucket = bucket.TokenBucket(max_rate=0.5, clock=bucket.Clock())
    with ClockWaits(virtual) as waits:
        clock_started = virtual.monotonic()
        for _ in range(4):
            assert token_bucket.acquire()
        assert virtual.monotonic() - clock_started >= 4  # 0.5 tokens/s: the later acquires waited
        assert virtual.jumped >= 2  # on the clock, which skipped the refills
    assert waits.sdk_retry_delays and all(d > 0 for d in waits.sdk_retry_delays)


def test_sdk_waits_can_be_left_alone_and_everything_is_undone(virtual):
    originals = (endpoint.time, bucket.TokenBucket.acquire, bucket.Clock.current_time)
    with ClockWaits(virtual, sdk=False):
        assert endpoint.time is time
    with ClockWaits(virtual):
        assert endpoint.time is not time
    assert (endpoint.time, bucket.TokenBucket.acquire, bucket.Clock.current_time) == originals


def test_advance_wakes_a_sleeper_at_once():
    clock = RealClock()
    woke: list[bool] = []

    def sleep_an_hour() -> None:
        clock.sleep(3600)
        woke.append(True)

    sleeper = threading.Thread(target=sleep_an_hour)
    started = time.monotonic()
    sleeper.start()
    time.sleep(0.05)
    clock.advance(3600)
    sleeper.join(timeout=5)
    assert woke and time.monotonic() - started < 5
    with pytest.raises(ValueError):
        clock.advance(-1)
