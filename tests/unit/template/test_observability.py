"""Observability as the template declares it and the code emits it.

- every function: X-Ray, Powertools Logger (with the execution's keys), Metrics (EMF) and Tracer;
- every state machine: logging to its own log group, X-Ray;
- the alarms and the dashboard use exactly the metrics FinishRun emits, with exactly the dimensions
  Powertools writes (sync + service), so no alarm watches a metric that never arrives;
- one alarm per state machine for failed executions and for runs longer than the schedule interval, the
  fallback, throttling and cache-staleness alarms, all notifying the alarm topic;
- the alarms across syncs and the dashboard cover every sync without naming any (a new sync needs no edit).
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from typing import Any

import boto3
import pytest
from moto import mock_aws
from template_helpers import ROOT, machine_of, template_syncs

from fleet_sync.core.observability import execution_keys, metrics
from fleet_sync.core.settings import Settings
from fleet_sync.run import tasks
from fleet_sync.run.registry import SYNCS
from fleet_sync.run.summary import Summary
from fleet_sync.syncs.recovery_instances.status import FRESH_MINUTES, MISSED_RUNS
from sandbox import stack

NAMESPACE = "DRSFleetSync"
SERVICE = "drs-fleet-sync"  # the default stack name; the template sets POWERTOOLS_SERVICE_NAME to the stack name
MACHINE_OF_SYNC = {sync: machine_of(sync) for sync in template_syncs()}
GRAPHS = {  # dashboard widget title -> the metrics it must show, one line per sync
    "Duration (minutes)": {"SyncDuration"},
    "Work items": {"WorkItems"},
    "Regions skipped": {"RegionsSkipped"},
    "API calls": {"ApiCalls"},
    "Errors": {"SyncErrors", "ThrottledItems", "ExecutionsFailed"},
}


@cache
def translated() -> stack.Translated:
    return stack.translate(ROOT / "template.yaml")


def resources_of(rtype: str) -> dict[str, dict[str, Any]]:
    return {lid: r["Properties"] for lid, r in translated().cfn["Resources"].items() if r["Type"] == rtype}


def alarms() -> dict[str, dict[str, Any]]:
    return resources_of("AWS::CloudWatch::Alarm")


def metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its metric math."""
    if "MetricName" in alarm:
        return [{"Namespace": alarm["Namespace"], "MetricName": alarm["MetricName"], "Dimensions": alarm["Dimensions"]}]
    return [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]


INSIGHTS = re.compile(r"SELECT (\w+)\((\w+)\) FROM SCHEMA\((\w+), ([\w, ]+)\) WHERE service = '\$\{AWS::StackName\}'")
SEARCH = re.compile(r"SEARCH\('\{([\w/]+),([\w,]+)\} MetricName=\"(\w+)\" (.*?)', '(\w+)', \d+\)")


def insights_queries(alarm: dict[str, Any]) -> list[tuple[str, str, str, set[str]]]:
    """(function, metric, namespace, schema dimensions) of each Metrics Insights query of an alarm."""
    out = []
    for m in alarm.get("Metrics", []):
        expression = m.get("Expression")
        if isinstance(expression, dict):
            match = INSIGHTS.fullmatch(expression["Fn::Sub"])
            assert match, expression
            fn, metric, namespace, dims = match.groups()
            out.append((fn, metric, namespace, {d.strip() for d in dims.split(",")}))
    return out


@pytest.fixture()
def emitted(monkeypatch):
    """Publish one run's metrics the way FinishRun does; the EMF document Powertools would print."""
    monkeypatch.setattr(metrics.provider, "service", SERVICE)
    metrics.clear_metrics()

    def publish(**summary: Any) -> dict[str, Any]:
        empty = {"executionArn": "arn", "runId": "r", "workItems": [], "workItemCount": 0, "activeRegions": []}
        empty |= {"regionsSkipped": 0, "pairsTotal": 0, "pairsSkipped": 0, "apiCalls": {}, "apiCallTotal": 0}
        empty |= {"itemsByStatus": {}, "serversSynced": 0, "errorCount": 0, "errors": [], "counts": {}}
        tasks._publish_metrics(
            Summary(**{**empty, "sync": "staging", "decision": "filtered", "outcome": "complete", **summary}),
            Settings.model_construct(metrics_namespace=NAMESPACE),  # the one setting it reads
        )
        try:
            return dict(metrics.serialize_metric_set())  # a plain dict: it also holds each metric's value
        finally:
            metrics.clear_metrics()

    return publish


def emf_shape(document: dict[str, Any]) -> tuple[str, set[str], set[str]]:
    [directive] = document["_aws"]["CloudWatchMetrics"]
    [dimensions] = directive["Dimensions"]
    return directive["Namespace"], set(dimensions), {m["Name"] for m in directive["Metrics"]}


# ------------------------------------------------------------------ functions and state machines


def test_every_function_traces_and_names_its_service_and_namespace():
    for lid, fn in resources_of("AWS::Lambda::Function").items():
        assert fn["TracingConfig"] == {"Mode": "Active"}, lid
        env = fn["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}, lid
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE, lid


def test_every_state_machine_logs_to_its_own_group_and_traces():
    groups = resources_of("AWS::Logs::LogGroup")
    for lid, machine in resources_of("AWS::StepFunctions::StateMachine").items():
        assert machine["TracingConfiguration"] == {"Enabled": True}, lid
        logging = machine["LoggingConfiguration"]
        assert logging["Level"] in ("ERROR", "ALL") and logging["IncludeExecutionData"] is False, lid
        [destination] = logging["Destinations"]
        group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        assert groups[group]["RetentionInDays"] > 0, lid


def handlers() -> dict[str, ast.FunctionDef]:
    out = {}
    for lid, fn in translated().sam["Resources"].items():
        if fn["Type"] == "AWS::Serverless::Function":
            code = ROOT / fn["Properties"]["CodeUri"] / "app.py"
            tree = ast.parse(code.read_text())
            [handler] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "handler"]
            out[lid] = handler
    return out


def task_functions() -> set[str]:
    """Functions a state machine invokes (its DefinitionSubstitutions)."""
    return {
        value["Fn::GetAtt"][0]
        for machine in translated().sam["Resources"].values()
        if machine["Type"] == "AWS::Serverless::StateMachine"
        for value in machine["Properties"]["DefinitionSubstitutions"].values()
        if isinstance(value, dict) and "Fn::GetAtt" in value
    }


@pytest.mark.parametrize("function_id", sorted(handlers()))
def test_every_handler_has_logger_metrics_and_tracer(function_id):
    handler = handlers()[function_id]
    decorators = [ast.unparse(d.func if isinstance(d, ast.Call) else d) for d in handler.decorator_list]
    assert decorators == ["logger.inject_lambda_context", "metrics.log_metrics", "tracer.capture_lambda_handler"]
    calls = {ast.unparse(d): d for d in handler.decorator_list if isinstance(d, ast.Call)}
    inject = next(d for text, d in calls.items() if text.startswith("logger.inject_lambda_context"))
    assert any(
        k.arg == "clear_state" and isinstance(k.value, ast.Constant) and k.value.value is True for k in inject.keywords
    ), function_id
    if function_id in task_functions():  # its log lines carry the sync, execution, account and region
        first = ast.unparse(handler.body[0])
        assert first == "logger.append_keys(**execution_keys(event))", function_id


def test_execution_keys_come_from_every_kind_of_task_event():
    resolve = json.loads((ROOT / "events/task-resolve-plan.json").read_text())
    assert execution_keys(resolve) == {
        "sync": "inventory",
        "executionArn": resolve["executionArn"],
        "runId": "sample-inventory",
    }
    work_item = json.loads((ROOT / "events/task-inventory-worker.json").read_text())
    assert execution_keys(work_item) == {
        "sync": "inventory",
        "executionArn": work_item["executionArn"],
        "runId": "sample-inventory",
        "accountId": "111111111111",
        "region": "us-east-1",
    }
    run = {"run": {"sync": "tags", "runId": "r1", "executionArn": "arn:x", "decision": "filtered"}}
    assert execution_keys(run) == {"sync": "tags", "runId": "r1", "executionArn": "arn:x"}
    assert execution_keys({"operation": "sync_tags"}) == {"operation": "sync_tags"}
    assert execution_keys(None) == {} and execution_keys({"accountId": 1}) == {}


# ------------------------------------------------------------------ what FinishRun emits


def test_finish_run_emits_per_sync_with_the_service_dimension(emitted):
    namespace, dimensions, names = emf_shape(emitted())
    assert namespace == NAMESPACE
    assert dimensions == {"sync", "service"}
    assert {"SyncDuration", "WorkItems", "RegionsSkipped", "ApiCalls", "SyncErrors"} <= names
    assert {"FallbackCount", "ThrottledItems", "CompleteRuns"} <= names


@pytest.mark.parametrize(
    ("summary", "fallback", "throttled", "complete"),
    [
        ({}, 0, 0, 1),
        ({"decision": "fallback_empty"}, 1, 0, 1),
        ({"decision": "fallback_error", "outcome": "partial", "itemsByStatus": {"THROTTLED": 2}}, 1, 2, 0),
        ({"decision": "skipped", "outcome": "skipped"}, 0, 0, 0),
        ({"decision": "scoped"}, 0, 0, 0),  # a wave run refreshes a few servers, not the cache
    ],
)
def test_the_alarmed_metrics_count_what_they_say(emitted, summary, fallback, throttled, complete):
    document = emitted(**summary)
    assert document["FallbackCount"] == [float(fallback)]
    assert document["ThrottledItems"] == [float(throttled)]
    assert document["CompleteRuns"] == [float(complete)]


def test_alarms_and_dashboard_use_only_emitted_metrics_with_their_dimensions(emitted):
    namespace, dimensions, names = emf_shape(emitted())
    used = [m for a in alarms().values() for m in metric_stats(a) if m["Namespace"] == namespace]
    assert used
    for m in used:
        assert m["MetricName"] in names, m
        dims = {d["Name"]: d["Value"] for d in m["Dimensions"]}
        assert set(dims) == dimensions, m
        assert dims["service"] == {"Ref": "AWS::StackName"} and dims["sync"] in SYNCS, m
    queries = [q for a in alarms().values() for q in insights_queries(a)]
    assert queries
    for _fn, metric, space, query_dims in queries:
        assert (space, metric in names, query_dims) == (namespace, True, dimensions), metric
    searched = dashboard_searches()
    assert [s for s in searched if s[0] == namespace]
    for space, search_dims, metric, _filter, _stat in searched:
        if space == namespace:
            assert metric in names and search_dims == dimensions, metric


# ------------------------------------------------------------------ alarms


def schedule_minutes(machine: str) -> str:
    """The parameter holding a machine's (main) schedule interval in minutes."""
    expression = resources_of("AWS::Scheduler::Schedule")[f"{machine}Scheduled"]["ScheduleExpression"]
    match = re.fullmatch(r"rate\(\$\{(\w+)\} minutes\)", expression["Fn::Sub"])
    assert match is not None, expression
    return match.group(1)


def alarms_on(namespace: str, metric: str) -> dict[str, dict[str, Any]]:
    return {
        lid: a
        for lid, a in alarms().items()
        if any(m["Namespace"] == namespace and m["MetricName"] == metric for m in metric_stats(a))
    }


def test_every_alarm_notifies_the_topic():
    assert alarms()
    for lid, alarm in alarms().items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], lid
        assert alarm["OKActions"] == [{"Ref": "AlarmTopic"}], lid
        assert "docs/operations.md" in json.dumps(alarm["AlarmDescription"]), f"{lid}: name its runbook"
    topic = resources_of("AWS::SNS::Topic")["AlarmTopic"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    assert topic["Subscription"]["Fn::If"][0] == "HasAlarmEmail"


@pytest.mark.parametrize("sync", sorted(MACHINE_OF_SYNC))
def test_each_state_machine_alarms_on_failed_executions(sync):
    machine = MACHINE_OF_SYNC[sync]
    [alarm] = [
        a
        for a in alarms_on("AWS/States", "ExecutionsFailed").values()
        if metric_stats(a)[0]["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
    ]
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("sync", sorted(MACHINE_OF_SYNC))
def test_each_state_machine_alarms_on_a_run_longer_than_its_interval(sync):
    machine = MACHINE_OF_SYNC[sync]
    [alarm] = [
        a
        for a in alarms_on("AWS/States", "ExecutionTime").values()
        if metric_stats(a)[0]["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
    ]
    [returned] = [m for m in alarm["Metrics"] if m.get("ReturnData", True)]
    [stat] = [m for m in alarm["Metrics"] if "MetricStat" in m]
    assert returned["Expression"] == f"{stat['Id']} / 60000"  # milliseconds -> minutes
    assert stat["MetricStat"]["Stat"] == "Maximum"
    assert alarm["Threshold"] == {"Ref": schedule_minutes(machine)}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


@pytest.mark.parametrize(
    ("metric", "threshold", "operator"),
    [("FallbackCount", 10, "GreaterThanThreshold"), ("ThrottledItems", 1, "GreaterThanOrEqualToThreshold")],
)
def test_fallbacks_and_throttling_are_alarmed_across_every_sync_per_hour(metric, threshold, operator):
    # one Metrics Insights query sums the metric over every value of the sync dimension (this stack's only)
    [alarm] = [a for a in alarms().values() if any(q[1] == metric for q in insights_queries(a))]
    [query] = alarm["Metrics"]
    assert insights_queries(alarm) == [("SUM", metric, NAMESPACE, {"service", "sync"})]
    assert "sync" not in query["Expression"]["Fn::Sub"].split("WHERE")[1]  # no sync left out
    assert query["Period"] == 3600
    assert alarm["Threshold"] == threshold and alarm["ComparisonOperator"] == operator
    assert alarm["TreatMissingData"] == "notBreaching"  # no run, no fallback


def resolved(value: Any, parameters: dict[str, Any]) -> int:
    """An alarm setting with its Ref to a parameter resolved, as CloudFormation does."""
    return int(parameters[value["Ref"]]) if isinstance(value, dict) else int(value)


def resolved_alarm(alarm: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    fields = ("Period", "EvaluationPeriods", "DatapointsToAlarm")
    return {**alarm, **{k: resolved(alarm[k], parameters) for k in fields}}


def test_the_recovery_instance_cache_alarms_when_stale_for_its_freshness_window():
    [(lid, alarm)] = alarms_on(NAMESPACE, "CompleteRuns").items()
    alarm = resolved_alarm(alarm, translated().parameters)
    dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dims["sync"] == "recovery-instances"
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Period"] * alarm["EvaluationPeriods"] == FRESH_MINUTES * 60
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
    assert alarm["TreatMissingData"] == "breaching"  # no run at all is the failure it watches for
    condition = translated().cfn["Resources"][lid]["Condition"]
    switch = f"{template_syncs()['recovery-instances']}SyncEnabled"
    assert translated().cfn["Conditions"][condition] == {"Fn::Equals": [{"Ref": switch}, "true"]}


def test_deployed_alarms_resolve_and_the_fallback_query_names_the_stack():
    with mock_aws():
        dep = stack.deploy(
            stack.translate(ROOT / "template.yaml", stack_name="other"),
            lambda service: boto3.client(service, region_name=stack.DEFAULT_REGION),
        )
        cloudwatch = boto3.client("cloudwatch", region_name=stack.DEFAULT_REGION)
        names = {dep.physical_id(lid): lid for lid in dep.of_type("AWS::CloudWatch::Alarm")}
        found = {names[a["AlarmName"]]: a for a in cloudwatch.describe_alarms(AlarmNames=list(names))["MetricAlarms"]}
    assert len(found) == len(alarms())
    [query] = found["RegionFilterFallbackAlarm"]["Metrics"]
    assert query["Expression"].endswith("WHERE service = 'other'") and query["Period"] == 3600
    assert all("${" not in a["AlarmDescription"] for a in found.values())


# ------------------------------------------------------------------ the dashboard


@cache
def dashboard() -> dict[str, Any]:
    [props] = resources_of("AWS::CloudWatch::Dashboard").values()
    text = props["DashboardBody"]["Fn::Sub"]
    # nothing per sync to edit: no parameter, no state machine, only the stack's pseudo parameters
    assert set(re.findall(r"\$\{([\w:]+)\}", text)) <= {"AWS::StackName", "AWS::Region"}
    return json.loads(text.replace("${AWS::StackName}", SERVICE).replace("${AWS::Region}", "us-east-1"))


def searches(lines: list[Any]) -> list[tuple[str, set[str], str, str, str]]:
    """(namespace, schema dimensions, metric, the rest of the search, statistic) of each SEARCH in lines."""
    out = []
    for line in lines:
        for item in line:
            for match in SEARCH.finditer(item.get("expression", "") if isinstance(item, dict) else ""):
                space, dims, metric, rest, stat = match.groups()
                out.append((space, set(dims.split(",")), metric, rest, stat))
    return out


def dashboard_searches() -> list[tuple[str, set[str], str, str, str]]:
    return [s for w in dashboard()["widgets"] for s in searches(w["properties"].get("metrics", []))]


def test_the_dashboard_graphs_every_sync_with_a_line_each():
    widgets = dashboard()["widgets"]
    for w in widgets:
        assert w["x"] + w["width"] <= 24
    graphs = {w["properties"]["title"]: w["properties"]["metrics"] for w in widgets if w["type"] == "metric"}
    assert set(graphs) == set(GRAPHS)
    for title, lines in graphs.items():
        found = searches(lines)
        assert len(found) == len(lines), f"{title}: every line is a search"
        assert GRAPHS[title] <= {metric for _, _, metric, _, _ in found}, title
    for space, dims, metric, rest, _stat in dashboard_searches():
        if space == NAMESPACE:  # a line per value of the sync dimension, this stack's service only
            assert dims == {"service", "sync"} and rest == f'service="{SERVICE}"', metric
        else:  # the stack's state machines, named {stack}-{sync}-sync
            assert (space, dims, metric, rest) == ("AWS/States", {"StateMachineArn"}, "ExecutionsFailed", SERVICE)


@pytest.mark.parametrize("rate", ["2", "13", "60"])
def test_the_recovery_instance_cache_alarm_follows_the_schedule(rate):
    # the cache is trusted for MISSED_RUNS intervals of the configured rate: the alarm watches that window
    switch = f"{template_syncs()['recovery-instances']}SyncRateMinutes"
    done = stack.translate(ROOT / "template.yaml", {switch: rate})
    cfn = done.cfn
    [alarm] = [
        r["Properties"]
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == "CompleteRuns"
    ]
    alarm = resolved_alarm(alarm, done.parameters)
    assert alarm["Period"] * alarm["EvaluationPeriods"] == MISSED_RUNS * int(rate) * 60
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]  # no complete run in any period of the window
    functions = [r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    rates = [f["Environment"]["Variables"]["RECOVERY_INSTANCES_SYNC_RATE_MINUTES"] for f in functions]
    assert rates and all(r == {"Ref": switch} for r in rates)  # the layer reads the same parameter
