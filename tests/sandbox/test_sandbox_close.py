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


def test_a_running_execution_is_let_finish(sb):
    arn = sb.start_sync("smoke")
    finish_executions(sb, sb.lambdas, 120, set())
    assert status(sb, arn)["status"] == "SUCCEEDED"


@pytest.mark.xfail(
    strict=False,
    reason="known race, open: a handler stopped at close can fail the execution before its StopExecution lands",
)
def test_past_the_bound_it_is_stopped_as_closed_not_failed(sb):
    arn = sb.start_sync("smoke")
    finish_executions(sb, sb.lambdas, 0, set())
    desc = status(sb, arn)
    assert desc["status"] == "ABORTED"
    assert not [t for t in threading.enumerate() if t.name.startswith("lambda ")]  # no handler runs on


def test_close_leaves_nothing_running_against_a_stopped_moto(sb, caplog):  # last: it closes the sandbox
    sb.start_sync("smoke")
    sb.close()
    assert "localhost:5000" not in caplog.text and "Could not connect" not in caplog.text
    assert not [t for t in threading.enumerate() if t.name.startswith("lambda ")]
    with Sandbox(template=SMOKE, fleet=None):  # and the next sandbox can open
        pass
