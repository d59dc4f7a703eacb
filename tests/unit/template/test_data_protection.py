"""Data protection as the translated template declares it (what `sam deploy` creates):

- the accounts and inventory tables survive a stack deletion or replacement and refuse a table deletion
  (the failback topology cannot be rebuilt from DRS);
- the plan bucket refuses every request not made over TLS;
- every function has its own log group, created with the stack, with a retention;
- the alarm key lets CloudWatch use it only for this account's alarms;
- the item results the state machine writes (a worker that failed outright) expire like the workers' own.
"""

from __future__ import annotations

import json
from functools import cache

from template_helpers import ROOT

from sandbox import stack

RETAINED_TABLES = ("AccountsTable", "InventoryTable")


@cache
def resources() -> dict:
    return stack.translate(ROOT / "template.yaml").cfn["Resources"]


def test_the_accounts_and_inventory_tables_are_retained_and_deletion_protected():
    for lid in RETAINED_TABLES:
        table = resources()[lid]
        assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain", lid
        assert table["Properties"]["DeletionProtectionEnabled"] is True, lid


def test_the_plan_bucket_refuses_requests_without_tls():
    policies = [r["Properties"] for r in resources().values() if r["Type"] == "AWS::S3::BucketPolicy"]
    on_bucket = [p for p in policies if p["Bucket"] == {"Ref": "PlanBucket"}]
    assert len(on_bucket) == 1
    denies = [s for s in on_bucket[0]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    tls = [s for s in denies if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(tls) == 1 and tls[0]["Principal"] == "*" and tls[0]["Action"] in ("s3:*", ["s3:*"])
    assert {json.dumps(r, sort_keys=True) for r in tls[0]["Resource"]} == {
        json.dumps({"Fn::GetAtt": ["PlanBucket", "Arn"]}, sort_keys=True),
        json.dumps({"Fn::Sub": "${PlanBucket.Arn}/*"}, sort_keys=True),
    }


def test_every_function_has_a_log_group_with_a_retention():
    functions = {lid for lid, r in resources().items() if r["Type"] == "AWS::Lambda::Function"}
    groups = {}
    for r in resources().values():
        if r["Type"] == "AWS::Logs::LogGroup":
            name = r["Properties"].get("LogGroupName")
            if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str):
                groups[name["Fn::Sub"]] = r["Properties"].get("RetentionInDays")
    missing = {lid for lid in functions if not groups.get(f"/aws/lambda/${{{lid}}}")}
    assert functions and missing == set()


def test_cloudwatch_may_use_the_alarm_key_only_for_this_accounts_alarms():
    statements = resources()["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    for s in statements:
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}:
            assert s["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in statements)


def test_the_item_results_the_state_machine_writes_expire():
    machine = json.loads((ROOT / "statemachines" / "sync.asl.json").read_text())
    processor = machine["States"]["Scan each account and region"]["ItemProcessor"]["States"]
    item = processor["Record the failed item"]["Parameters"]["Item"]
    assert item["expiresAt"] == {"N.$": "States.Format('{}', $.itemExpiresAt)"}
    selector = machine["States"]["Scan each account and region"]["ItemSelector"]
    assert selector["itemExpiresAt.$"] == "$.run.itemExpiresAt"


def test_the_api_writes_a_json_access_log_naming_each_caller():
    stages = [r["Properties"] for r in resources().values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert len(stages) == 1
    setting = stages[0]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = json.loads(setting["Format"])
    assert line["callerArn"] == "$context.identity.userArn" and line["requestId"] == "$context.requestId"
    assert {"httpMethod", "resourcePath", "status", "sourceIp"} <= set(line)
    assert resources()["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] > 0
