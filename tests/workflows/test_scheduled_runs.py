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
