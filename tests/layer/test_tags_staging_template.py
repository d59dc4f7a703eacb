"""The tag and staging syncs as template.yaml declares them, checked against the code (no drift)."""

import json
from pathlib import Path

import pytest

from fleet_sync.run.registry import state_machine_name
from sandbox.asl_check import check, placeholders
from sandbox.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
# (machine, worker, the parameter holding its schedule's minutes, that parameter's default)
SYNCS = {
    "tags": ("TagSyncStateMachine", "TagsWorkerFunction", "TagSyncRateMinutes", 60),
    "staging": ("StagingSyncStateMachine", "StagingWorkerFunction", "StagingSyncRateMinutes", 5),
}


def definition(machine_id):
    return json.loads((ROOT / RESOURCES[machine_id]["Properties"]["DefinitionUri"]).read_text())


@pytest.mark.parametrize("sync", sorted(SYNCS))
def test_the_state_machine_is_named_and_wired_as_the_code_expects(sync):
    machine_id, worker_id, rate_parameter, minutes = SYNCS[sync]
    props = RESOURCES[machine_id]["Properties"]
    # the name the data-management function derives from the SyncSpec
    assert props["Name"] == {"Fn::Sub": state_machine_name("${AWS::StackName}", sync)}
    subs = props["DefinitionSubstitutions"]
    assert subs["SyncName"] == sync
    assert subs["WorkerFunctionArn"] == {"Fn::GetAtt": [worker_id, "Arn"]}
    assert RESOURCES[worker_id]["Type"] == "AWS::Serverless::Function"
    # every placeholder of the ASL is substituted, and the ASL is sound
    text = (ROOT / props["DefinitionUri"]).read_text()
    assert placeholders(text) <= set(subs)
    assert check(json.loads(text)) == []
    # scheduled like the specification says (by default), with an empty input
    [event] = props["Events"].values()
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == {"Fn::Sub": f"rate(${{{rate_parameter}}} minutes)"}
    assert TEMPLATE["Parameters"][rate_parameter]["Default"] == minutes
    assert event["Properties"]["Input"] == "{}"
    # logging and tracing like the inventory machine
    assert props["Tracing"] == {"Enabled": True}
    assert props["Logging"]["Level"] == "ERROR"
    invoked = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in props["Policies"] if "LambdaInvokePolicy" in p}
    assert worker_id in invoked


@pytest.mark.parametrize("sync", sorted(SYNCS))
def test_the_asl_is_the_inventory_asl_but_for_its_comment(sync):
    machine_id = SYNCS[sync][0]
    ours, inventory = definition(machine_id), definition("InventorySyncStateMachine")
    ours.pop("Comment"), inventory.pop("Comment")
    selector = ours["States"]["Scan each account and region"]["ItemSelector"]
    if sync == "staging":  # the staging worker records the execution with every extension
        assert selector.pop("executionArn.$") == "$.run.executionArn"
    assert ours == inventory


def test_the_workers_use_least_privilege_policy_templates():
    tag = RESOURCES["TagsWorkerFunction"]["Properties"]["Policies"]
    staging = RESOURCES["StagingWorkerFunction"]["Properties"]["Policies"]

    def tables(policies, kind):
        return {p[kind]["TableName"]["Ref"] for p in policies if kind in p}

    assert tables(tag, "DynamoDBCrudPolicy") == {"SyncStateTable"}
    assert tables(tag, "DynamoDBReadPolicy") == {"AccountsTable", "RegionStatusTable", "InventoryTable"}
    assert tables(staging, "DynamoDBCrudPolicy") == {"StagingExtensionsTable", "SyncStateTable"}
    assert tables(staging, "DynamoDBReadPolicy") == {"AccountsTable"}
