"""The template's EventBridge Scheduler schedules fire on the sandbox clock: each at its own rate, with its own
input, through its own role, never when DISABLED; an overlapping run meets the sync lock."""

import json
from collections import Counter
from typing import Any

import pytest

from sandbox import Sandbox

TARGET = "111111111111"
FLEET = {
    "seed": 3,
    "accounts": [{"accountId": TARGET, "kind": "target", "regions": {"us-east-1": {"sourceServers": 2}}}],
}
# Distinct rates, so which schedule fired shows in the counts; tags off.
PARAMS = {
    "DrsRegions": "us-east-1",
    "StagingSyncRateMinutes": "5",
    "RecoveryInstancesSyncRateMinutes": "10",
    "InventorySyncRateMinutes": "15",
    "DiscoveryRateMinutes": "30",
    "TagsSyncRateMinutes": "20",
    "TagsSyncEnabled": "false",
}


@pytest.fixture(scope="module")
def sb():
    with Sandbox(fleet=FLEET, parameters=PARAMS) as box:
        yield box


def executions(sb: Any) -> list[dict[str, Any]]:
    """Every execution of every state machine, with its input."""
    sfn = sb.client("stepfunctions")
    out = []
    for short, arn in sb.state_machines.items():
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            for execution in page["executions"]:
                desc = sfn.describe_execution(executionArn=execution["executionArn"])
                if desc["status"] == "RUNNING":  # started at the last firing time: let it end
                    desc = sb.wait(execution["executionArn"])
                output = json.loads(desc.get("output") or "{}")
                out.append(
                    {"sync": short, "input": json.loads(desc["input"]), "status": desc["status"], "output": output}
                )
    return out


def started(sb: Any, minutes: float) -> list[dict[str, Any]]:
    before = len(executions(sb))
    sb.advance(minutes=minutes)
    return executions(sb)[before:] if before else executions(sb)


def by_sync_and_input(runs: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((run["sync"], json.dumps(run["input"], sort_keys=True)) for run in runs)


def test_schedules_fire_at_their_rates_with_the_template_inputs(sb):
    # nothing runs before its first rate has passed
    sb.advance(minutes=4)
    assert executions(sb) == []

    # one rate of the staging schedule (5 min after the deploy): exactly one run of it, with its Input "{}"
    sb.advance(minutes=1)
    first = executions(sb)
    assert by_sync_and_input(first) == Counter({("staging", "{}"): 1})

    # to minute 30: staging 6 times, recovery-instances 3, inventory 2, discovery (its own rate) once,
    # the disabled tags schedule never
    sb.advance(minutes=25)
    runs = executions(sb)
    assert by_sync_and_input(runs) == Counter(
        {
            ("staging", "{}"): 6,
            ("recovery-instances", "{}"): 3,
            ("inventory", "{}"): 2,
            ("inventory", '{"mode": "discovery"}'): 1,
        }
    )
    assert not [run for run in runs if run["sync"] == "tags"]
    assert {run["status"] for run in runs} == {"SUCCEEDED"}
    # at minute 30 the inventory and discovery schedules start the same state machine at once: the sync
    # lock lets one run and the other ends skipped
    inventory = Counter(run["output"]["outcome"] for run in runs if run["sync"] == "inventory")
    assert inventory == Counter({"complete": 2, "skipped": 1})
    assert all(f.error is None for f in sb.scheduler.firings)
    assert len(sb.scheduler.firings) == len(runs)


def schedule_of(sb: Any, sync: str) -> dict[str, Any]:
    scheduler = sb.client("scheduler")
    for item in scheduler.list_schedules()["Schedules"]:
        full = scheduler.get_schedule(Name=item["Name"], GroupName=item["GroupName"])
        if full["Target"]["Arn"] == sb.state_machine_arn(sync) and full["Target"].get("Input") == "{}":
            return full
    raise AssertionError(f"no schedule of {sync}")


def updated(full: dict[str, Any], **changes: Any) -> dict[str, Any]:
    keys = ("Name", "GroupName", "ScheduleExpression", "FlexibleTimeWindow", "Target", "State", "Description")
    return {**{k: full[k] for k in keys if full.get(k) is not None}, **changes}


def test_disabled_refused_and_failing_schedules(sb):
    scheduler, iam = sb.client("scheduler"), sb.client("iam")
    staging = schedule_of(sb, "staging")
    scheduler.update_schedule(**updated(staging, State="DISABLED"))
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="describe-only", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="describe-only",
        PolicyName="describe",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "states:DescribeExecution", "Resource": "*"}],
            }
        ),
    )
    target = sb.state_machine_arn("staging")
    every_2 = {"ScheduleExpression": "rate(2 minutes)", "FlexibleTimeWindow": {"Mode": "OFF"}}
    scheduler.create_schedule(Name="refused", Target={"Arn": target, "RoleArn": role, "Input": "{}"}, **every_2)
    bad = {"Arn": target, "RoleArn": staging["Target"]["RoleArn"], "Input": '{"foo": 1}'}
    scheduler.create_schedule(Name="bad-input", Target=bad, **every_2)
    before = [run for run in executions(sb) if run["sync"] == "staging"]
    sb.advance(minutes=10)
    after = [run for run in executions(sb) if run["sync"] == "staging"][: -len(before)]

    # the disabled staging schedule started nothing; the refused role started nothing, each time visibly
    assert [run["input"] for run in after] == [{"foo": 1}] * 5
    refused = [f for f in sb.scheduler.firings if f.schedule == "refused"]
    assert len(refused) == 5 and all(f.execution_arn is None for f in refused)
    assert "describe-only may not states:StartExecution on " + target in refused[0].error
    # a scheduled run that fails shows in the execution list as FAILED
    failed = sb.client("stepfunctions").list_executions(stateMachineArn=target, statusFilter="FAILED")["executions"]
    assert len(failed) == 5

    for name in ("refused", "bad-input"):
        scheduler.delete_schedule(Name=name)
    scheduler.update_schedule(**updated(staging, State="ENABLED"))
    sb.advance(minutes=5)
    assert {f.schedule for f in sb.scheduler.firings[-3:]} >= {staging["Name"]}


def test_serve_lists_each_schedule_with_its_state_and_real_interval(sb):
    from sandbox.cli import _print_schedules

    lines: list[str] = []
    _print_schedules(sb, 60.0, type("Out", (), {"print": staticmethod(lines.append)})())
    assert lines[0].startswith("schedules (the clock runs at 60x")
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows[schedule_of(sb, "staging")["Name"]] == ["ENABLED", "every", "5", "min", "=", "5", "s", "real"]
    tags = next(name for name in rows if "TagsSync" in name)
    assert rows[tags][:2] == ["DISABLED", "every"] and rows[tags][-3:] == ["20", "s", "real"]
