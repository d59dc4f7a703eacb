"""A Distributed Map's items are child executions, as in AWS: ListExecutions(mapRunArn), DescribeExecution and
GetExecutionHistory answer for each, which is all the console's Map Run page reads."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError


def test_every_work_item_is_a_child_execution_of_the_map_run(sb, runs):
    sfn = sb.client("stepfunctions")
    summary = runs["filtered"]
    (map_run,) = sfn.list_map_runs(executionArn=summary["executionArn"])["mapRuns"]
    children = sfn.list_executions(mapRunArn=map_run["mapRunArn"], maxResults=1000)["executions"]
    pairs = set()
    for child in children:
        assert child["executionArn"].startswith(
            map_run["mapRunArn"].replace(":mapRun:", ":execution:").rsplit(":", 1)[0]
        )
        desc = sfn.describe_execution(executionArn=child["executionArn"])
        assert desc["mapRunArn"] == map_run["mapRunArn"] and desc["status"] == "SUCCEEDED"
        item = json.loads(desc["input"])
        pairs.add((item["accountId"], item["region"]))
        events = sfn.get_execution_history(executionArn=child["executionArn"])["events"]
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    assert pairs == {(i["accountId"], i["region"]) for i in summary["workItems"]}
    assert len(children) == summary["workItemCount"] == map_run_counts(sfn, map_run["mapRunArn"])


def map_run_counts(sfn, arn):
    return sfn.describe_map_run(mapRunArn=arn)["executionCounts"]["total"]


def test_listing_pages_and_filters_by_status(sb, runs):
    sfn = sb.client("stepfunctions")
    (map_run,) = sfn.list_map_runs(executionArn=runs["first"]["executionArn"])["mapRuns"]
    pages = list(sfn.get_paginator("list_executions").paginate(mapRunArn=map_run["mapRunArn"], maxResults=3))
    assert len(pages) > 1 and all(len(p["executions"]) <= 3 for p in pages)
    listed = [e["executionArn"] for p in pages for e in p["executions"]]
    assert len(listed) == len(set(listed)) == runs["first"]["workItemCount"]
    failed = sfn.list_executions(mapRunArn=map_run["mapRunArn"], statusFilter="FAILED")["executions"]
    assert failed == []  # a failed pair is a result, not a failed child: the worker returns it


def test_an_unknown_map_run_is_resource_not_found(sb, runs):
    sfn = sb.client("stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:mapRun:drs-fleet-sync-inventory-sync/ScanAccountRegion:nope"
    with pytest.raises(ClientError) as exc:
        sfn.list_executions(mapRunArn=arn)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"
