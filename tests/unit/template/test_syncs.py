"""Every sync in the template's list is the same set of resources: a state machine {stack}-{sync}-sync
running statemachines/sync.asl.json with the sync's own worker, its schedule, its log group, its two alarms
and its output. Derived from the list, so a fifth sync is checked without editing this file."""

import json

import boto3
import pytest
from moto import mock_aws
from template_helpers import PRODUCT, ROOT, SYNC_LOOP, machine_of, template_syncs

from fleet_sync.run.registry import SYNCS
from sandbox import stack

SYNC_NAMES = sorted(template_syncs())
STACK = "drs-fleet-sync"


@pytest.fixture(scope="module")
def deployed():
    """The product deployed into moto with a distinct rate per sync; what each sync got, read back."""
    rates = {f"{pascal}SyncRateMinutes": 10 + i for i, pascal in enumerate(template_syncs().values())}
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        dep = stack.deploy(stack.translate(PRODUCT, rates), lambda s: boto3.client(s, region_name=stack.DEFAULT_REGION))
        sfn, scheduler, cloudwatch = (
            boto3.client(s, region_name=stack.DEFAULT_REGION) for s in ("stepfunctions", "scheduler", "cloudwatch")
        )
        machines = {
            lid: sfn.describe_state_machine(stateMachineArn=res.arn)
            for lid, res in dep.of_type("AWS::StepFunctions::StateMachine").items()
        }
        schedules = [
            scheduler.get_schedule(Name=r.physical_id) for r in dep.of_type("AWS::Scheduler::Schedule").values()
        ]
        alarms = cloudwatch.describe_alarms()["MetricAlarms"]
        yield dep, rates, machines, schedules, alarms


def test_the_list_of_syncs_is_the_layers(deployed):
    # the API, the direct invocations and the metrics know a sync by the layer's registry
    assert set(template_syncs()) == set(SYNCS)
    source = stack.read_template(PRODUCT)
    outputs_loop = next(v for k, v in source["Outputs"].items() if k.startswith("Fn::ForEach::"))
    assert outputs_loop[1] == source["Resources"][SYNC_LOOP][1]  # one list: the outputs loop repeats it


@pytest.mark.parametrize("sync", SYNC_NAMES)
def test_the_sync_runs_the_one_workflow_with_its_own_worker(deployed, sync):
    dep, _, machines, _, _ = deployed
    res = dep.resources[machine_of(sync)]
    assert res.attributes["Name"] == f"{STACK}-{sync}-sync"
    assert res.local_path == ROOT / "statemachines/sync.asl.json"
    substitutions = res.attributes["DefinitionSubstitutions"]
    assert substitutions["SyncName"] == sync
    [worker] = [
        lid for lid, f in dep.of_type("AWS::Lambda::Function").items() if f.arn == substitutions["WorkerFunctionArn"]
    ]
    pascal = template_syncs()[sync]
    assert worker == f"{pascal}WorkerFunction"
    assert dep.resources[worker].local_path == ROOT / "functions" / f"{sync.replace('-', '_')}_worker"
    others = {machine_of(s) for s in SYNC_NAMES} - {machine_of(sync)}
    assert all(
        dep.resources[m].attributes["DefinitionSubstitutions"]["WorkerFunctionArn"] != dep.resources[worker].arn
        for m in others
    )
    definition = json.loads(machines[machine_of(sync)]["definition"])
    assert definition["States"]["Scan each account and region"]["ItemSelector"]["sync"] == sync
    assert dep.outputs[f"{pascal}SyncStateMachineArn"] == res.arn


@pytest.mark.parametrize("sync", SYNC_NAMES)
def test_the_sync_logs_to_its_own_group(deployed, sync):
    _, _, machines, _, _ = deployed
    [destination] = machines[machine_of(sync)]["loggingConfiguration"]["destinations"]
    arn = destination["cloudWatchLogsLogGroup"]["logGroupArn"]
    assert arn.split(":log-group:")[1] == f"/aws/vendedlogs/states/{STACK}-{sync}-sync:*"
    assert machines[machine_of(sync)]["loggingConfiguration"]["level"] == "ERROR"
    assert machines[machine_of(sync)]["tracingConfiguration"] == {"enabled": True}


@pytest.mark.parametrize("sync", SYNC_NAMES)
def test_the_sync_is_scheduled_at_its_own_rate(deployed, sync):
    dep, rates, _, schedules, _ = deployed
    arn = dep.resources[machine_of(sync)].arn
    mine = [s for s in schedules if s["Target"]["Arn"] == arn and json.loads(s["Target"]["Input"]) == {}]
    [schedule] = mine
    assert schedule["ScheduleExpression"] == f"rate({rates[template_syncs()[sync] + 'SyncRateMinutes']} minutes)"
    assert schedule["State"] == "ENABLED"


@pytest.mark.parametrize("sync", SYNC_NAMES)
def test_the_sync_alarms_on_failed_and_overlong_executions(deployed, sync):
    dep, rates, _, _, alarms = deployed
    arn = dep.resources[machine_of(sync)].arn

    def on_machine(alarm):
        metrics = [alarm] + [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
        return [
            m["MetricName"] for m in metrics if {"Name": "StateMachineArn", "Value": arn} in m.get("Dimensions", [])
        ]

    mine = {name: a for a in alarms for name in on_machine(a)}
    assert set(mine) == {"ExecutionsFailed", "ExecutionTime"}
    assert mine["ExecutionTime"]["Threshold"] == rates[f"{template_syncs()[sync]}SyncRateMinutes"]
    assert f"the {sync} sync" in mine["ExecutionsFailed"]["AlarmDescription"]
