"""Closing a sandbox under a running execution: it finishes (bounded, on the clock) or is stopped cleanly,
and nothing of it runs on once moto is gone."""

import threading
from pathlib import Path

import pytest

from sandbox import Sandbox
from sandbox.executions import finish_executions

SMOKE = Path(__file__).resolve().parents[2] / "tests/fixtures/smoke/template.yaml"


@pytest.fixture(scope="module")
def sb():
    with Sandbox(template=SMOKE, fleet=None) as box:
        yield box


def status(sb, arn):
    return sb.client("stepfunctions").describe_execution(executionArn=arn)


def aborted_with(sb, arn):
    """The error of the execution's last event if it is ExecutionAborted, else that event's type."""
    last = sb.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"][-1]
    return (
        last.get("executionAbortedEventDetails", {}).get("error")
        if last["type"] == "ExecutionAborted"
        else last["type"]
    )


def test_a_running_execution_is_let_finish(sb):
    arn = sb.start_sync("smoke")
    finish_executions(sb, sb.lambdas, 120, set())
    assert status(sb, arn)["status"] == "SUCCEEDED"


def test_past_the_bound_it_is_stopped_as_closed_not_failed(sb):
    for _ in range(5):  # a stop lands at a different point of the run each time
        arn = sb.start_sync("smoke")
        finish_executions(sb, sb.lambdas, 0, set())
        assert status(sb, arn)["status"] == "ABORTED", status(sb, arn).get("cause")
        assert aborted_with(sb, arn) == "Sandbox.Closed"
        assert not [t for t in threading.enumerate() if t.name.startswith("lambda ")]  # no handler runs on


def test_a_stopped_execution_stays_aborted_whatever_its_running_state_does_next(sb):
    sfn = sb.client("stepfunctions")
    outcomes = set()
    for _ in range(20):  # StopExecution lands at a different step of the running state each time
        arn = sb.start_sync("smoke")
        sfn.stop_execution(executionArn=arn, error="Test.Stop", cause="stopped by the test")
        outcomes.add((sb.wait(arn, timeout=60)["status"], aborted_with(sb, arn)))
    assert outcomes == {("ABORTED", "Test.Stop")}


def test_close_leaves_nothing_running_against_a_stopped_moto(sb, caplog):  # last: it closes the sandbox
    sb.start_sync("smoke")
    sb.close()
    assert "localhost:5000" not in caplog.text and "Could not connect" not in caplog.text
    assert not [t for t in threading.enumerate() if t.name.startswith("lambda ")]
    with Sandbox(template=SMOKE, fleet=None):  # and the next sandbox can open
        pass
