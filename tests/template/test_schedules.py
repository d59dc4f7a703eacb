"""Every sync is scheduled (EventBridge Scheduler, SAM ScheduleV2) with its rate and on/off switch as parameters.

Checked in the translated template (what `sam deploy` sends) and in a sandbox deployment, where the
intrinsics are resolved: defaults, the samconfig.toml overrides, and overrides that turn schedules off.
"""

import json
import shlex
import tomllib

import boto3
import pytest
from moto import mock_aws
from template_helpers import ROOT

from fleet_sync.run.models import parse_sync_input
from fleet_sync.run.registry import sync_spec
from sandbox import stack

# (state machine, SAM event, sync, rate parameter, switch parameter, default minutes, execution input)
SCHEDULES = [
    ("InventorySyncStateMachine", "Scheduled", "inventory", "InventorySyncRateMinutes", "InventorySyncEnabled", 15, {}),
    (
        "InventorySyncStateMachine",
        "Discovery",
        "inventory",
        "DiscoveryRateMinutes",
        "DiscoveryEnabled",
        6 * 60,
        {"mode": "discovery"},
    ),
    ("TagSyncStateMachine", "Scheduled", "tags", "TagSyncRateMinutes", "TagSyncEnabled", 60, {}),
    ("StagingSyncStateMachine", "Scheduled", "staging", "StagingSyncRateMinutes", "StagingSyncEnabled", 5, {}),
    (
        "RecoveryInstanceSyncStateMachine",
        "Scheduled",
        "recovery-instances",
        "RecoveryInstanceSyncRateMinutes",
        "RecoveryInstanceSyncEnabled",
        5,
        {},
    ),
]
IDS = [f"{machine}.{event}" for machine, event, *_ in SCHEDULES]


@pytest.fixture(scope="module")
def translated():
    return stack.translate(ROOT / "template.yaml")


def cfn_resources(translated, rtype):
    return {lid: r for lid, r in translated.cfn["Resources"].items() if r["Type"] == rtype}


def deploy_schedules(parameters=None):
    """Deploy the product template into moto; the resolved schedules by logical id."""
    with mock_aws():
        dep = stack.deploy(
            stack.translate(ROOT / "template.yaml", parameters),
            lambda service: boto3.client(service, region_name=stack.DEFAULT_REGION),
        )
        scheduler = boto3.client("scheduler", region_name=stack.DEFAULT_REGION)
        out = {}
        for lid, res in dep.of_type("AWS::Scheduler::Schedule").items():
            out[lid] = scheduler.get_schedule(Name=res.physical_id)
            machines = dep.of_type("AWS::StepFunctions::StateMachine").items()
            out[lid]["machine"] = next(m for m, r in machines if r.arn == out[lid]["Target"]["Arn"])
        return out


def samconfig_overrides() -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    text = config["default"]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in shlex.split(text))


# ------------------------------------------------------------------ the translated template


def test_every_state_machine_is_scheduled_and_nothing_else(translated):
    machines = set(cfn_resources(translated, "AWS::StepFunctions::StateMachine"))
    schedules = cfn_resources(translated, "AWS::Scheduler::Schedule")
    targets = sorted(s["Properties"]["Target"]["Arn"]["Ref"] for s in schedules.values())
    assert set(targets) == machines
    assert sorted(f"{machine}{event}" for machine, event, *_ in SCHEDULES) == sorted(schedules)


@pytest.mark.parametrize(("machine", "event", "sync", "rate", "switch", "minutes", "payload"), SCHEDULES, ids=IDS)
def test_the_schedule_takes_its_rate_and_switch_from_parameters(
    translated, machine, event, sync, rate, switch, minutes, payload
):
    props = translated.cfn["Resources"][f"{machine}{event}"]["Properties"]
    assert props["ScheduleExpression"] == {"Fn::Sub": f"rate(${{{rate}}} minutes)"}
    declared = translated.sam["Parameters"]
    assert declared[rate]["Type"] == "Number" and declared[rate]["Default"] == minutes
    assert declared[rate]["MinValue"] >= 2  # rate(1 minutes) is not a valid expression
    assert declared[switch]["AllowedValues"] == ["true", "false"] and declared[switch]["Default"] == "true"
    switched_on = {"Fn::Equals": [{"Ref": switch}, "true"]}
    [condition] = [c for c, expr in translated.cfn["Conditions"].items() if expr == switched_on]
    assert props["State"] == {"Fn::If": [condition, "ENABLED", "DISABLED"]}
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert "Name" not in props  # CloudFormation names it: two stacks in one account do not collide
    assert props["Target"]["Arn"] == {"Ref": machine}


@pytest.mark.parametrize(("machine", "event", "sync", "rate", "switch", "minutes", "payload"), SCHEDULES, ids=IDS)
def test_the_input_is_what_the_sync_accepts(translated, machine, event, sync, rate, switch, minutes, payload):
    props = translated.cfn["Resources"][f"{machine}{event}"]["Properties"]
    given = json.loads(props["Target"]["Input"])
    assert given == payload
    request = parse_sync_input(sync_spec(sync).input_model, sync, given)  # InvalidSyncInput otherwise
    assert request.mode == payload.get("mode")


@pytest.mark.parametrize(("machine", "event", "sync", "rate", "switch", "minutes", "payload"), SCHEDULES, ids=IDS)
def test_the_schedule_role_may_only_start_its_machine(translated, machine, event, sync, rate, switch, minutes, payload):
    props = translated.cfn["Resources"][f"{machine}{event}"]["Properties"]
    role_id = props["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = translated.cfn["Resources"][role_id]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["scheduler.amazonaws.com"]} and trust["Effect"] == "Allow"
    assert not role.get("ManagedPolicyArns")
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert statements == [{"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine}}]


def test_discovery_runs_as_often_as_the_plan_promises_a_rescan(translated):
    # the plan rescans any pair older than DiscoveryAgeHours; the discovery run rescans everything as often
    declared = translated.sam["Parameters"]
    assert declared["DiscoveryRateMinutes"]["Default"] == declared["DiscoveryAgeHours"]["Default"] * 60


# ------------------------------------------------------------------ deployed (intrinsics resolved)


def test_deployed_with_defaults_every_schedule_is_on_at_its_rate():
    deployed = deploy_schedules()
    assert len(deployed) == len(SCHEDULES)
    for machine, event, _sync, _rate, _switch, minutes, payload in SCHEDULES:
        schedule = deployed[f"{machine}{event}"]
        assert schedule["machine"] == machine
        assert schedule["ScheduleExpression"] == f"rate({minutes} minutes)"
        assert schedule["State"] == "ENABLED"
        assert json.loads(schedule["Target"]["Input"]) == payload


def test_switches_and_rates_are_applied():
    deployed = deploy_schedules({"DiscoveryEnabled": "false", "TagSyncEnabled": "false", "StagingSyncRateMinutes": 10})
    assert deployed["InventorySyncStateMachineDiscovery"]["State"] == "DISABLED"
    assert deployed["TagSyncStateMachineScheduled"]["State"] == "DISABLED"
    assert deployed["InventorySyncStateMachineScheduled"]["State"] == "ENABLED"
    assert deployed["StagingSyncStateMachineScheduled"]["ScheduleExpression"] == "rate(10 minutes)"


def test_samconfig_deploys_a_working_stack_with_every_schedule_on():
    overrides = samconfig_overrides()
    translated = stack.translate(ROOT / "template.yaml", overrides)  # unknown or invalid values raise here
    assert translated.parameters["RegionFiltering"] == "true"
    deployed = deploy_schedules(overrides)
    assert {lid: s["State"] for lid, s in deployed.items()} == {f"{m}{e}": "ENABLED" for m, e, *_ in SCHEDULES}


def test_the_recovery_instance_cache_freshness_assumes_the_default_schedule(translated):
    from fleet_sync.syncs.recovery_instances.status import FRESH_MINUTES, SCHEDULE_MINUTES

    assert translated.sam["Parameters"]["RecoveryInstanceSyncRateMinutes"]["Default"] == SCHEDULE_MINUTES
    assert FRESH_MINUTES == 3 * SCHEDULE_MINUTES  # three missed runs before the cache stops being trusted
