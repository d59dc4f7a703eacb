"""A scoped run that meets its sync's lock waits for it in its first state: the Resolve task raises SyncBusy
and the state machine's Retry repeats it every 10 s on the sandbox clock, so the run writes only after the
run holding the lock has finished. After its last attempt it ends skipped instead of failing."""

import json
from pathlib import Path

import pytest

from fleet_sync.run.tasks import LOCK_WAIT_ATTEMPTS
from sandbox import Sandbox
from sandbox.drs import clock as drs_clock
from tests.sandbox_support import HeldLatency

A = "111111111111"
FLEET = {"seed": 4, "accounts": [{"accountId": A, "regions": {"us-east-1": {"sourceServers": 4}}}]}
SCOPED = {"accountId": A, "region": "us-east-1"}


@pytest.fixture()
def sb():
    with Sandbox(fleet=FLEET, parameters={"DrsRegions": "us-east-1"}) as box:
        box.run_sync("inventory")
        yield box


def lock_waits(sb, arn):
    return [
        e
        for e in sb.history(arn)
        if e["type"] == "TaskFailed" and e["taskFailedEventDetails"].get("error") == "SyncBusy"
    ]


def test_a_scoped_run_meeting_the_lock_waits_in_its_first_state_and_scans_after_the_holder(sb):
    held = HeldLatency(drs_clock.current())
    previous = drs_clock.install(held)
    sb.set_faults([{"accountId": A, "operation": "DescribeSourceServers", "latencyMs": 1, "times": 1}])
    try:
        full = sb.start_sync("inventory", {"mode": "discovery"})
        assert held.entered.wait(60)  # the full run holds the lock and is in its scan
        # started as an event's run that met the lock is: no lock taken by its starter
        scoped = sb.start_sync("inventory", SCOPED)
        assert sb.clock.wait_until(lambda: len(lock_waits(sb, scoped)) >= 2, None, real_limit=60)
        assert sb.client("stepfunctions").describe_execution(executionArn=scoped)["status"] == "RUNNING"
    finally:
        held.release()
        drs_clock.install(previous)
    assert sb.wait(full)["status"] == "SUCCEEDED"
    out = sb.wait(scoped)
    assert out["status"] == "SUCCEEDED", out
    assert json.loads(out["output"])["decision"] == "scoped"
    full_end = next(e["timestamp"] for e in sb.history(full) if e["type"] == "ExecutionSucceeded")
    scan_start = next(e["timestamp"] for e in sb.history(scoped) if e["type"] == "MapStateEntered")
    assert scan_start >= full_end  # it wrote only after the holder had finished
    assert 2 <= len(lock_waits(sb, scoped)) <= LOCK_WAIT_ATTEMPTS


def test_past_its_last_attempt_a_scoped_run_ends_skipped_and_a_run_that_is_not_scoped_never_waits(sb):
    held = HeldLatency(drs_clock.current())
    previous = drs_clock.install(held)
    sb.set_faults([{"accountId": A, "operation": "DescribeSourceServers", "latencyMs": 1, "times": 1}])
    lam = sb.client("lambda")

    def resolve(sync_input, retry_count):
        payload = {
            "sync": "inventory",
            "input": sync_input,
            "executionArn": f"{sb.state_machine_arn('inventory').replace(':stateMachine:', ':execution:')}:probe",
            "executionName": "probe",
            "retryCount": retry_count,
        }
        answer = lam.invoke(FunctionName=sb.function_name("ResolvePlanFunction"), Payload=json.dumps(payload))
        return answer.get("FunctionError"), json.loads(answer["Payload"].read())

    try:
        full = sb.start_sync("inventory", {"mode": "discovery"})
        assert held.entered.wait(60)
        error, body = resolve(SCOPED, LOCK_WAIT_ATTEMPTS - 1)
        assert error and body["errorType"] == "SyncBusy", body
        assert f"attempt {LOCK_WAIT_ATTEMPTS} of {LOCK_WAIT_ATTEMPTS + 1}" in body["errorMessage"]
        error, body = resolve(SCOPED, LOCK_WAIT_ATTEMPTS)
        assert error is None and body["decision"] == "skipped", body
        error, body = resolve({}, 0)  # a scheduled run is skipped at once: the next one covers it
        assert error is None and body["decision"] == "skipped", body
    finally:
        held.release()
        drs_clock.install(previous)
    assert sb.wait(full)["status"] == "SUCCEEDED"


def test_the_state_machine_retries_sync_busy_as_often_as_resolve_counts():
    definition = json.loads((Path(__file__).parents[2] / "statemachines/sync.asl.json").read_text())
    resolve = definition["States"]["Resolve the scan plan"]
    [retry] = [r for r in resolve["Retry"] if r["ErrorEquals"] == ["SyncBusy"]]
    assert retry["MaxAttempts"] == LOCK_WAIT_ATTEMPTS and retry["IntervalSeconds"] * LOCK_WAIT_ATTEMPTS == 900
    assert resolve["Parameters"]["Payload"]["retryCount.$"] == "$$.State.RetryCount"
