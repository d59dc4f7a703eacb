"""Every sync is scheduled (EventBridge Scheduler) with its rate and on/off switch as parameters; the
inventory sync also has its discovery schedule.

Checked in the translated template (what `sam deploy` sends) and in a sandbox deployment, where the
intrinsics are resolved: defaults, the samconfig.toml overrides, and overrides of every rate and switch.
"""

import json
import shlex
import tomllib
from typing import Any

import boto3
import pytest
from moto import mock_aws
from template_helpers import PRODUCT, ROOT, machine_of, template_syncs

from fleet_sync.run.models import parse_sync_input
from fleet_sync.run.registry import sync_spec
from sandbox import stack

# (schedule logical id, state machine, sync, rate parameter, switch parameter, execution input)
SCHEDULES: list[tuple[str, str, str, str, str, dict[str, str]]] = [
    (f"{machine_of(sync)}Scheduled", machine_of(sync), sync, f"{pascal}SyncRateMinutes", f"{pascal}SyncEnabled", {})
    for sync, pascal in sorted(template_syncs().items())
] + [
    (
        "InventoryDiscoverySchedule",
        "InventorySyncStateMachine",
        "inventory",
        "DiscoveryRateMinutes",
        "DiscoveryEnabled",
        {"mode": "discovery"},
    )
]
IDS = [schedule for schedule, *_ in SCHEDULES]


@pytest.fixture(scope="module")
def translated():
    return stack.translate(PRODUCT)


def cfn_resources(translated, rtype):
    return {lid: r for lid, r in translated.cfn["Resources"].items() if r["Type"] == rtype}


def deploy_schedules(parameters=None):
    """Deploy the product template into moto; the resolved schedules by logical id, with their machine."""
    with mock_aws():
        dep = stack.deploy(
            stack.translate(PRODUCT, parameters),
            lambda service: boto3.client(service, region_name=stack.DEFAULT_REGION),
        )
        scheduler = boto3.client("scheduler", region_name=stack.DEFAULT_REGION)
        machines = dep.of_type("AWS::StepFunctions::StateMachine").items()
        out = {}
        for lid, res in dep.of_type("AWS::Scheduler::Schedule").items():
            out[lid] = scheduler.get_schedule(Name=res.physical_id)
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
    assert sorted(IDS) == sorted(schedules)


@pytest.mark.parametrize(("schedule", "machine", "sync", "rate", "switch", "payload"), SCHEDULES, ids=IDS)
def test_the_rate_and_switch_are_parameters_cloudformation_names_it(
    translated, schedule, machine, sync, rate, switch, payload
):
    props = translated.cfn["Resources"][schedule]["Properties"]
    declared = translated.sam["Parameters"]
    assert declared[rate]["Type"] == "Number"
    assert declared[rate]["MinValue"] >= 2  # rate(1 minutes) is not a valid expression
    assert declared[switch]["AllowedValues"] == ["true", "false"] and declared[switch]["Default"] == "true"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert "Name" not in props  # CloudFormation names it: two stacks in one account do not collide
    assert props["Target"]["Arn"] == {"Ref": machine}


@pytest.mark.parametrize(("schedule", "machine", "sync", "rate", "switch", "payload"), SCHEDULES, ids=IDS)
def test_the_input_is_what_the_sync_accepts(translated, schedule, machine, sync, rate, switch, payload):
    props = translated.cfn["Resources"][schedule]["Properties"]
    given = json.loads(props["Target"]["Input"])
    assert given == payload
    request = parse_sync_input(sync_spec(sync).input_model, sync, given)  # InvalidSyncInput otherwise
    assert request.mode == payload.get("mode")


@pytest.mark.parametrize(("schedule", "machine", "sync", "rate", "switch", "payload"), SCHEDULES, ids=IDS)
def test_the_schedule_role_may_only_start_its_machine(translated, schedule, machine, sync, rate, switch, payload):
    props = translated.cfn["Resources"][schedule]["Properties"]
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
    declared = stack.read_template(PRODUCT)["Parameters"]
    assert sorted(deployed) == sorted(IDS)
    for schedule, machine, _sync, rate, _switch, payload in SCHEDULES:
        assert deployed[schedule]["machine"] == machine
        assert deployed[schedule]["ScheduleExpression"] == f"rate({declared[rate]['Default']} minutes)"
        assert deployed[schedule]["State"] == "ENABLED"
        assert json.loads(deployed[schedule]["Target"]["Input"]) == payload


def test_each_schedule_follows_its_own_rate_and_switch():
    # every rate a different value, every other switch off: each schedule reads only its own two parameters
    overrides: dict[str, Any] = {}
    for i, (_schedule, _machine, _sync, rate, switch, _payload) in enumerate(SCHEDULES):
        overrides[rate] = 20 + i
        overrides[switch] = "false" if i % 2 else "true"
    deployed = deploy_schedules(overrides)
    for schedule, _machine, _sync, rate, switch, _payload in SCHEDULES:
        assert deployed[schedule]["ScheduleExpression"] == f"rate({overrides[rate]} minutes)", schedule
        assert deployed[schedule]["State"] == ("ENABLED" if overrides[switch] == "true" else "DISABLED"), schedule


def test_samconfig_deploys_a_working_stack_with_every_schedule_on():
    overrides = samconfig_overrides()
    translated = stack.translate(PRODUCT, overrides)  # unknown or invalid values raise here
    assert translated.parameters["RegionFiltering"] == "true"
    deployed = deploy_schedules(overrides)
    assert {lid: s["State"] for lid, s in deployed.items()} == dict.fromkeys(IDS, "ENABLED")


def test_the_recovery_instance_cache_freshness_assumes_the_default_schedule(translated):
    from fleet_sync.syncs.recovery_instances.status import FRESH_MINUTES, MISSED_RUNS, SCHEDULE_MINUTES

    rate = f"{template_syncs()['recovery-instances']}SyncRateMinutes"
    assert translated.sam["Parameters"][rate]["Default"] == SCHEDULE_MINUTES
    assert FRESH_MINUTES == MISSED_RUNS * SCHEDULE_MINUTES  # three missed runs before the cache stops being trusted
