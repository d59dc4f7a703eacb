"""The smoke state machine (tests/fixtures/smoke) through Sandbox: Map, Retry, Catch, Distributed Map, history."""

import json
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest

from sandbox import Sandbox, SandboxError

SMOKE = Path(__file__).resolve().parents[2] / "tests/fixtures/smoke/template.yaml"
ITEMS = list(range(1, 13))
PERMANENT = [i for i in ITEMS if i % 7 == 3]  # caught: recorded as failed
TRANSIENT = [i for i in ITEMS if i % 5 == 2 and i not in PERMANENT]  # fail once, then retried


@pytest.fixture(scope="module")
def sb():
    with Sandbox(template=SMOKE, fleet=None) as box:
        yield box


@pytest.fixture(scope="module")
def run(sb):
    sb.waits.clear()
    summary = sb.run_sync("smoke")
    return summary, list(sb.waits.retry_delays)


def by_type(events, kind):
    return [e for e in events if e["type"] == kind]


def test_output_is_the_summary_with_status_and_arn(run):
    summary, _ = run
    ok = [i for i in ITEMS if i not in PERMANENT]
    assert summary["status"] == "SUCCEEDED"
    assert summary["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:drs-fleet-sync-smoke:")
    assert summary["sync"] == "smoke" and summary["items"] == len(ITEMS)
    assert summary["processed"] == {"inline": len(ok), "distributed": len(ok)}
    assert summary["failedItems"] == PERMANENT
    assert summary["total"] == sum(2 * i for i in ok)
    assert summary["rowsWritten"] == 2 * len(ok)


def test_retry_delays_are_recorded_not_slept(run):
    _, delays = run
    assert delays == [1.0] * (2 * len(TRANSIENT))  # IntervalSeconds of the first retry, per item, per map


def test_history_shows_each_retry_after_its_failure(sb, run):
    summary, _ = run
    events = sb.history(summary["executionArn"])
    ids = {e["id"] for e in events}
    assert all(e["previousEventId"] in ids | {0} for e in events)
    by_id = {e["id"]: e for e in events}
    failures = by_type(events, "TaskFailed")
    assert Counter(e["taskFailedEventDetails"]["error"] for e in failures) == {
        "TransientError": len(TRANSIENT),
        "PermanentError": len(PERMANENT),
    }
    for failed in (e for e in failures if e["taskFailedEventDetails"]["error"] == "TransientError"):
        retry = next(e for e in events if e["previousEventId"] == failed["id"])
        assert retry["type"] == "TaskScheduled"  # the retry of the same item follows its failure
        succeeded = next(e for e in events if e["previousEventId"] == retry["id"])
        assert next(e for e in events if e["previousEventId"] == succeeded["id"])["type"] == "TaskSucceeded"
    caught = [
        e
        for e in by_type(events, "PassStateEntered")
        if e["stateEnteredEventDetails"]["name"] == "Record the failed item"
    ]
    assert len(caught) == len(PERMANENT)
    for entered in caught:  # the Catch path: TaskFailed -> TaskStateExited -> the catcher's state
        exited = by_id[entered["previousEventId"]]
        assert exited["type"] == "TaskStateExited"
        assert by_id[exited["previousEventId"]]["taskFailedEventDetails"]["error"] == "PermanentError"
        assert json.loads(entered["stateEnteredEventDetails"]["input"])["error"]["Error"] == "PermanentError"
    names = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    assert names[:4] == ["Were items given?", "Use the default items", "Name the plan", "Write the plan"]
    assert names[-2:] == ["Summarize the run", "Save the summary"]
    assert len(by_type(events, "MapIterationStarted")) == len(ITEMS)
    assert [e["type"] for e in events[-1:]] == ["ExecutionSucceeded"]


def test_history_includes_the_distributed_map_items_on_request(sb, run):
    summary, _ = run
    own = sb.history(summary["executionArn"])
    full = sb.history(summary["executionArn"], include_children=True)
    children = full[len(own) :]
    assert full[: len(own)] == own and children
    (map_run,) = {e["mapRunArn"] for e in children}
    assert by_type(own, "MapRunStarted")[0]["mapRunStartedEventDetails"]["mapRunArn"] == map_run
    errors = Counter(e["taskFailedEventDetails"]["error"] for e in by_type(children, "TaskFailed"))
    assert errors == {"TransientError": len(TRANSIENT), "PermanentError": len(PERMANENT)}
    recorded = [e for e in children if e["type"] == "PassStateEntered"]
    assert {e["stateEnteredEventDetails"]["name"] for e in recorded} == {"Record the failed planned item"}
    assert len(recorded) == len(PERMANENT)
    started = by_type(children, "TaskScheduled")
    assert len(started) == len(ITEMS) + len(TRANSIENT)
    assert all(isinstance(e["timestamp"], type(own[0]["timestamp"])) for e in children)


def test_rows_written_by_handlers_and_by_the_dynamodb_integration(sb, run):
    summary, _ = run
    run_name = summary["executionArn"].rsplit(":", 1)[-1]
    rows = [r for r in sb.items("items") if r["pk"] == f"run#{run_name}"]
    assert len(rows) == 2 * (len(ITEMS) - len(PERMANENT)) + 1
    (saved,) = [r for r in rows if r["sk"] == "summary"]
    assert json.loads(saved["summary"])["failedItems"] == PERMANENT
    assert all(isinstance(r["expiresAt"], int) for r in rows if r["sk"] != "summary")


def test_given_items_a_chosen_name_and_start_then_wait(sb):
    arn = sb.start_sync("smoke", {"items": [{"id": 1}, {"id": 3}]}, name="chosen-name")
    assert arn.endswith(":chosen-name")
    desc = sb.wait(arn)
    assert desc["status"] == "SUCCEEDED" and "ResponseMetadata" not in desc
    assert json.loads(desc["output"])["failedItems"] == [3]


def test_a_failed_execution_summarizes_its_error(sb):
    summary = sb.run_sync("smoke", '{"items": [{"no-id": 1}]}')
    assert set(summary) == {"sync", "status", "executionArn", "error", "cause"}
    assert summary["sync"] == "smoke" and summary["status"] == "FAILED"
    assert summary["error"] == "KeyError" and "'id'" in summary["cause"]


def test_names_come_from_the_template(sb):
    assert sb.state_machines == {"smoke": sb.state_machine_arn("smoke")}
    assert sb.state_machine_arn("SmokeStateMachine") == sb.state_machine_arn("drs-fleet-sync-smoke")
    assert sb.syncs == []  # no state machine of the fixture declares a SyncName
    assert sb.tables == {"items": sb.table_name("ItemsTable")}
    with pytest.raises(SandboxError, match="unknown sync 'tags'; this template defines: smoke"):
        sb.start_sync("tags")
    assert sb.drs_calls()["total"] == 0  # the DRS simulator runs even without a fleet


def test_the_same_sandbox_serves_http(sb):
    url = sb.serve(port=0)
    assert sb.serve() == url  # one server per sandbox
    sfn = boto3.client(
        "stepfunctions", endpoint_url=url, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    arn = sfn.start_execution(
        stateMachineArn=sb.state_machine_arn("smoke"), name="over-http", input='{"items": [{"id": 2}]}'
    )["executionArn"]
    deadline = time.monotonic() + 30
    while (desc := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert desc["status"] == "SUCCEEDED" and json.loads(desc["output"])["total"] == 4
    ddb = boto3.client(
        "dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    assert ddb.scan(TableName=sb.table_name("items"))["Count"] == len(sb.items("items"))


def test_sessions_share_one_service_model_loader_while_a_sandbox_is_open(sb):
    def loader():
        return boto3.Session()._session.get_component("data_loader")

    assert loader() is loader()  # the models are read from disk once, not once per session
    assert sb.client("dynamodb") is sb.client("dynamodb")
    assert sb.client("dynamodb", region="eu-west-1").meta.region_name == "eu-west-1"
