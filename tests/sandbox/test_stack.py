"""The deployer: a SAM template translated offline and created in moto exactly as declared."""

import json
import textwrap
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from sandbox import stack
from sandbox.stack import DeployError
from sandbox.stack.intrinsics import Resolver

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "tests/fixtures/smoke/template.yaml"
PRODUCT = ROOT / "template.yaml"
REGION = "us-east-1"


@pytest.fixture()
def aws(monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield lambda service: boto3.client(service, region_name=REGION)


def deploy(template, aws, parameters=None, **kw):
    return stack.deploy(stack.translate(template, parameters, **kw), aws)


def write_template(tmp_path, body, files=()):
    (tmp_path / "template.yaml").write_text(textwrap.dedent(body))
    for name, text in dict(files).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "template.yaml"


HANDLER = {"fn/app.py": "def handler(event, context):\n    return event\n"}


# ------------------------------------------------------------------ translation


def test_translate_replaces_local_paths_with_placeholders_and_keeps_the_files():
    t = stack.translate(SMOKE)
    kinds = {key.split("/")[0] for key in t.artifacts}
    assert kinds == {"CodeUri", "ContentUri", "DefinitionUri"}
    assert all(path.exists() for path in t.artifacts.values())
    fn = t.cfn["Resources"]["ProcessItemFunction"]["Properties"]
    assert t.local_artifact(fn["Code"]["S3Bucket"], fn["Code"]["S3Key"]) == SMOKE.parent / "functions/process_item"
    assert t.parameters == {"MaxConcurrency": "4", "TransientEvery": "5"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Nope": "1"}, "declares no parameter"),
        ({"MaxConcurrency": "0"}, "below MinValue"),
        ({"MaxConcurrency": "many"}, "must be a number"),
    ],
)
def test_parameters_are_validated_like_cloudformation(overrides, message):
    with pytest.raises(DeployError, match=message):
        stack.translate(SMOKE, overrides)


def test_parameter_allowed_values_and_pattern(tmp_path):
    path = write_template(
        tmp_path,
        """
        Parameters:
          Mode: {Type: String, Default: a, AllowedValues: [a, b]}
          Name: {Type: String, Default: ok, AllowedPattern: "[a-z]+"}
        Resources:
          Topic: {Type: AWS::SNS::Topic}
        """,
    )
    assert stack.translate(path, {"Mode": "b"}).parameters == {"Mode": "b", "Name": "ok"}
    with pytest.raises(DeployError, match="not one of"):
        stack.translate(path, {"Mode": "c"})
    with pytest.raises(DeployError, match="AllowedPattern"):
        stack.translate(path, {"Name": "NOT OK"})


def test_a_missing_code_dir_is_named(tmp_path):
    path = write_template(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: missing/, Handler: app.handler, Runtime: python3.12}
        """,
    )
    with pytest.raises(DeployError, match="Fn: CodeUri 'missing/' is not a directory"):
        stack.translate(path)


def test_a_template_is_translated_once_per_version_and_each_caller_gets_its_own_copy(tmp_path):
    body = """
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Rate: {Type: Number, Default: 5}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.12, MemorySize: !Ref Rate}
        """
    path = write_template(tmp_path, body, HANDLER)
    first, second = stack.translate(path), stack.translate(path)
    assert first.cfn == second.cfn and first.cfn is not second.cfn
    first.cfn["Resources"]["Fn"]["Properties"]["MemorySize"] = 1
    first.parameters["Rate"] = 1
    again = stack.translate(path)
    assert again.cfn["Resources"]["Fn"]["Properties"]["MemorySize"] == {"Ref": "Rate"}
    assert again.parameters["Rate"] == "5"
    assert stack.translate(path, {"Rate": 7}).parameters["Rate"] == "7"  # other inputs, another translation
    write_template(tmp_path, body.replace("Default: 5", "Default: 64"))  # a new version of the file
    assert stack.translate(path).parameters["Rate"] == "64"


# ------------------------------------------------------------------ the smoke stack, resource by resource


@pytest.fixture()
def smoke(aws):
    return deploy(SMOKE, aws), aws


def test_every_translated_resource_is_created_and_nothing_else(smoke):
    dep, _ = smoke
    assert set(dep.resources) == set(dep.translated.cfn["Resources"])
    assert not [r for r in dep.resources.values() if r.skipped]
    assert dep.notes == []


def test_tables_are_created_exactly_as_declared(smoke):
    dep, aws = smoke
    ddb = aws("dynamodb")
    name = dep.physical_id("ItemsTable")
    assert name.startswith("drs-fleet-sync-ItemsTable-")
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (gsi,) = table["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "ByStatus" and gsi["Projection"] == {"ProjectionType": "ALL"}
    assert [k["AttributeName"] for k in gsi["KeySchema"]] == ["status", "sk"]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_bucket_keeps_encryption_and_lifecycle(smoke):
    dep, aws = smoke
    s3 = aws("s3")
    bucket = dep.physical_id("PlanBucket")
    assert bucket == bucket.lower() and bucket.startswith("drs-fleet-sync-planbucket-")
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["ID"] == "ExpirePlans" and rule["Expiration"] == {"Days": 1}


def test_functions_get_layers_architecture_tracing_and_a_resolved_environment(smoke):
    dep, aws = smoke
    conf = aws("lambda").get_function_configuration(FunctionName=dep.physical_id("ProcessItemFunction"))
    assert conf["Handler"] == "app.handler" and conf["Runtime"] == "python3.12"
    assert conf["Architectures"] == ["arm64"] and conf["Timeout"] == 30 and conf["MemorySize"] == 256
    assert [layer["Arn"] for layer in conf["Layers"]] == [dep.physical_id("SmokeLayer" + _layer_suffix(dep))]
    assert conf["Environment"]["Variables"] == {"ITEMS_TABLE": dep.physical_id("ItemsTable"), "TRANSIENT_EVERY": "5"}
    assert dep.environment == conf["Environment"]["Variables"]
    assert conf["Role"].endswith(dep.physical_id("ProcessItemFunctionRole"))


def _layer_suffix(dep):
    (lid,) = [lid for lid, r in dep.resources.items() if r.type == "AWS::Lambda::LayerVersion"]
    return lid.removeprefix("SmokeLayer")


def test_roles_carry_the_policies_sam_generated(smoke):
    dep, aws = smoke
    iam = aws("iam")
    role = dep.physical_id("ProcessItemFunctionRole")
    translated = dep.translated.cfn["Resources"]["ProcessItemFunctionRole"]["Properties"]
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [p["PolicyName"] for p in translated["Policies"]]
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert attached == set(translated["ManagedPolicyArns"])
    doc = iam.get_role_policy(RoleName=role, PolicyName=translated["Policies"][0]["PolicyName"])["PolicyDocument"]
    resources = json.dumps(doc)
    assert dep.physical_id("ItemsTable") in resources  # Fn::Sub resolved to the real table


def test_state_machine_keeps_its_name_and_gets_its_substitutions(smoke):
    dep, aws = smoke
    arn = dep.physical_id("SmokeStateMachine")
    assert arn == f"arn:aws:states:{REGION}:123456789012:stateMachine:drs-fleet-sync-smoke"
    desc = aws("stepfunctions").describe_state_machine(stateMachineArn=arn)
    assert "${" not in desc["definition"]
    definition = json.loads(desc["definition"])
    task = definition["States"]["Process each item"]["ItemProcessor"]["States"]["Process the item"]
    assert task["Parameters"]["FunctionName"] == dep.resources["ProcessItemFunction"].arn
    assert definition["States"]["Process each item"]["MaxConcurrency"] == 4  # unquoted placeholder
    assert desc["roleArn"] == dep.resources["SmokeStateMachineRole"].arn
    assert dep.outputs == {"SmokeStateMachineArn": arn, "ItemsTableName": dep.physical_id("ItemsTable")}


def test_parameters_reach_environment_and_definitions(aws):
    dep = deploy(SMOKE, aws, {"MaxConcurrency": "2", "TransientEvery": "3"}, stack_name="other")
    assert dep.environment["TRANSIENT_EVERY"] == "3"
    assert (
        json.loads(dep.resources["SmokeStateMachine"].attributes["Definition"])["States"]["Process each item"][
            "MaxConcurrency"
        ]
        == 2
    )
    assert dep.physical_id("SmokeStateMachine").endswith(":stateMachine:other-smoke")


# ------------------------------------------------------------------ the product template


def test_product_template_deploys_with_everything_it_declares(aws):
    dep = deploy(PRODUCT, aws)
    cfn = dep.translated.cfn["Resources"]
    # a resource whose Condition is false is not created, as in CloudFormation; every other one is
    holds = Resolver(dep.translated, dep.resources).condition
    assert set(dep.resources) == {lid for lid, r in cfn.items() if "Condition" not in r or holds(r["Condition"])}
    assert {lid for lid, r in cfn.items() if "Condition" in r} - set(dep.resources)  # the test sees both kinds
    for lid, res in dep.resources.items():
        if res.skipped:
            assert res.type not in stack.SUPPORTED_TYPES
            assert any(lid in note for note in dep.notes)
    ddb = aws("dynamodb")
    for lid, res in dep.of_type("AWS::DynamoDB::Table").items():
        props = cfn[lid]["Properties"]
        table = ddb.describe_table(TableName=res.physical_id)["Table"]
        assert table["KeySchema"] == props["KeySchema"], lid
        want = {g["IndexName"] for g in props.get("GlobalSecondaryIndexes", [])}
        assert {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])} == want, lid
        if "TimeToLiveSpecification" in props:
            ttl = ddb.describe_time_to_live(TableName=res.physical_id)["TimeToLiveDescription"]
            assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"], lid
    sam = dep.translated.sam["Resources"]
    machines = dep.of_type("AWS::StepFunctions::StateMachine")
    assert machines
    for lid, res in machines.items():
        keys = set(sam[lid]["Properties"]["DefinitionSubstitutions"])
        assert not any("${" + key + "}" in res.attributes["Definition"] for key in keys), lid
        sync = res.attributes["DefinitionSubstitutions"]["SyncName"]
        assert res.attributes["Name"] == f"{dep.stack_name}-{sync}-sync", lid  # the name the layer derives
    globals_env = set(dep.translated.sam["Globals"]["Function"]["Environment"]["Variables"])
    assert set(dep.environment) == globals_env
    _assert_rest_api_as_declared(dep, aws("apigateway"))
    _assert_permissions_name_the_api(dep, aws("lambda"), dep.physical_id("FleetSyncApi"))


def _assert_rest_api_as_declared(dep, apigw):
    """The template's REST API is in moto's API Gateway: name, every route with IAM auth and its function's
    proxy integration, the stage; the permissions' SourceArns name its id."""
    (api,) = apigw.get_rest_apis()["items"]
    assert api["id"] == dep.physical_id("FleetSyncApi") and api["name"] == f"{dep.stack_name}-api"
    body = dep.translated.cfn["Resources"]["FleetSyncApi"]["Properties"]["Body"]["paths"]
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api["id"], limit=500)["items"]}
    for path, operations in body.items():
        for verb in operations:
            http_method = "ANY" if verb == "x-amazon-apigateway-any-method" else verb.upper()
            method = apigw.get_method(restApiId=api["id"], resourceId=resources[path]["id"], httpMethod=http_method)
            assert method["authorizationType"] == "AWS_IAM", (path, verb)
            integration = method["methodIntegration"]
            assert integration["type"] == "AWS_PROXY" and ":function:drs-fleet-sync-" in integration["uri"], path
    assert {s["stageName"] for s in apigw.get_stages(restApiId=api["id"])["item"]} >= {"v1"}


def _assert_permissions_name_the_api(dep, lam, api_id):
    policy = json.loads(lam.get_policy(FunctionName=dep.physical_id("QueryApiFunction"))["Policy"])
    arns = [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]]
    assert arns and all(f":{api_id}/" in arn for arn in arns), arns


# ------------------------------------------------------------------ intrinsics, conditions, skipping


def test_unsupported_types_are_skipped_by_type_and_references_still_resolve(tmp_path, aws):
    path = write_template(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Api:
            Type: AWS::AppSync::GraphQLApi
            Properties: {Name: x, AuthenticationType: AWS_IAM}
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.12}
          Permission:
            Type: AWS::Lambda::Permission
            Properties:
              FunctionName: !Ref Fn
              Action: lambda:InvokeFunction
              Principal: apigateway.amazonaws.com
              SourceArn: !Sub arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*
        """,
        HANDLER,
    )
    dep = deploy(path, aws)
    assert dep.resources["Api"].skipped
    assert dep.notes == ["skipped Api (AWS::AppSync::GraphQLApi): the sandbox has no emulation for this resource type"]
    policy = json.loads(aws("lambda").get_policy(FunctionName=dep.physical_id("Fn"))["Policy"])
    assert "sandbox-skipped" in json.dumps(policy)


def test_conditions_if_and_novalue(tmp_path, aws):
    path = write_template(
        tmp_path,
        """
        Parameters:
          Env: {Type: String, Default: dev}
        Conditions:
          IsProd: !Equals [!Ref Env, prod]
          NotProd: !Not [!Condition IsProd]
        Resources:
          ProdOnly:
            Type: AWS::SNS::Topic
            Condition: IsProd
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              TableName: !Join ["-", [!If [IsProd, big, small], !Select [1, !Split [",", "a,b,c"]]]]
              BillingMode: PAY_PER_REQUEST
              AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
              KeySchema: [{AttributeName: pk, KeyType: HASH}]
              TimeToLiveSpecification: !If [NotProd, {AttributeName: ttl, Enabled: true}, !Ref AWS::NoValue]
        Outputs:
          Name:
            Value: !Sub
              - "${T}/${AWS::Region}/${!Literal}"
              - {T: !Ref Table}
        """,
    )
    dep = deploy(path, aws)
    assert "ProdOnly" not in dep.resources
    assert dep.physical_id("Table") == "small-b"
    assert dep.outputs == {"Name": f"small-b/{REGION}/${{Literal}}"}
    ttl = aws("dynamodb").describe_time_to_live(TableName="small-b")["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    prod = deploy(path, aws, {"Env": "prod"}, stack_name="prod")
    assert prod.resources["ProdOnly"].physical_id.startswith("arn:aws:sns:")
    assert prod.physical_id("Table") == "big-b"


def test_schedules_alarms_dashboards_and_log_groups(tmp_path, aws):
    path = write_template(
        tmp_path,
        """
        Resources:
          Logs:
            Type: AWS::Logs::LogGroup
            Properties: {LogGroupName: !Sub "/sandbox/${AWS::StackName}", RetentionInDays: 7}
          Topic: {Type: AWS::SNS::Topic}
          Alarm:
            Type: AWS::CloudWatch::Alarm
            Properties:
              MetricName: Errors
              Namespace: Test
              Statistic: Sum
              Period: 60
              EvaluationPeriods: 1
              Threshold: 1
              ComparisonOperator: GreaterThanOrEqualToThreshold
              AlarmActions: [!Ref Topic]
          Dashboard:
            Type: AWS::CloudWatch::Dashboard
            Properties:
              DashboardBody: !Sub '{"widgets": [], "stack": "${AWS::StackName}"}'
          Schedule:
            Type: AWS::Scheduler::Schedule
            Properties:
              ScheduleExpression: rate(5 minutes)
              FlexibleTimeWindow: {Mode: "OFF"}
              Target: {Arn: !Ref Topic, RoleArn: arn:aws:iam::123456789012:role/scheduler}
        """,
    )
    dep = deploy(path, aws)
    assert dep.resources["Logs"].arn == f"arn:aws:logs:{REGION}:123456789012:log-group:/sandbox/drs-fleet-sync:*"
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/sandbox/")["logGroups"]
    assert groups[0]["retentionInDays"] == 7
    alarm = aws("cloudwatch").describe_alarms(AlarmNames=[dep.physical_id("Alarm")])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == [dep.physical_id("Topic")]
    body = aws("cloudwatch").get_dashboard(DashboardName=dep.physical_id("Dashboard"))["DashboardBody"]
    assert json.loads(body)["stack"] == "drs-fleet-sync"
    schedule = aws("scheduler").get_schedule(Name=dep.physical_id("Schedule"))
    assert schedule["Target"]["Arn"] == dep.physical_id("Topic")
    assert (schedule["State"], schedule["FlexibleTimeWindow"]) == ("ENABLED", {"Mode": "OFF"})


def test_conflicting_environment_values_are_refused(tmp_path, aws):
    path = write_template(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Function: {Runtime: python3.12, Handler: app.handler, CodeUri: fn/}
        Resources:
          A: {Type: AWS::Serverless::Function, Properties: {Environment: {Variables: {MODE: a}}}}
          B: {Type: AWS::Serverless::Function, Properties: {Environment: {Variables: {MODE: b}}}}
        """,
        HANDLER,
    )
    with pytest.raises(DeployError, match="MODE is 'a' in A but 'b' in B"):
        deploy(path, aws)


def test_circular_dependencies_and_unknown_refs_are_named(tmp_path, aws):
    path = write_template(
        tmp_path,
        """
        Resources:
          A: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt B.TopicName}}
          B: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt A.TopicName}}
        """,
    )
    with pytest.raises(DeployError, match="circular dependency: A -> B -> A"):
        deploy(path, aws)
    path = write_template(tmp_path, "Resources:\n  A: {Type: AWS::SNS::Topic, Properties: {TopicName: !Ref Nope}}\n")
    with pytest.raises(DeployError, match="Ref to 'Nope'"):
        deploy(path, aws)


def test_a_state_machine_moto_cannot_parse_is_reported_with_its_file(tmp_path, aws):
    path = write_template(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Machine:
            Type: AWS::Serverless::StateMachine
            Properties:
              DefinitionUri: bad.asl.json
              Policies: []
        """,
        {"bad.asl.json": '{"StartAt": "A", "States": {"A": {"Type": "Bogus", "End": true}}}'},
    )
    with pytest.raises(DeployError, match=r"state machine Machine \(.*bad.asl.json\) rejected"):
        deploy(path, aws)


def test_substitute_replaces_every_placeholder_by_its_text():
    assert stack.substitute('{"a": "${X}", "n": ${N}, "b": ${B}}', {"X": "x", "N": 3, "B": True}) == (
        '{"a": "x", "n": 3, "b": true}'
    )


def test_references_finds_every_target():
    value = {
        "A": {"Ref": "One"},
        "B": {"Fn::GetAtt": ["Two", "Arn"]},
        "C": {"Fn::GetAtt": "Three.Arn"},
        "D": {"Fn::Sub": "${Four}-${Five.Arn}-${!Six}-${AWS::Region}"},
        "E": {"Fn::Sub": ["${Local}-${Seven}", {"Local": {"Ref": "Eight"}}]},
    }
    assert stack.references(value) == {"One", "Two", "Three", "Four", "Five", "AWS::Region", "Seven", "Eight"}


def test_generated_names_follow_cloudformation_and_fit_the_limit():
    name = stack.generated_name("drs-fleet-sync", "InventoryWorkerFunctionRole" * 3, 64)
    assert len(name) == 64 and name.startswith("drs-fleet-sync-InventoryWorker")
    assert stack.generated_name("Stack", "Bucket", 63, lower=True).startswith("stack-bucket-")


def test_aws_managed_policy_names_resolve_offline():
    arns = stack.aws_managed_policy_arns()
    assert arns["AWSLambdaBasicExecutionRole"] == "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    document = stack.aws_managed_policy_document("AWSXrayWriteOnlyAccess")
    assert document is not None and document["Path"] == "/"
    assert stack.aws_managed_policy_document("NoSuchPolicy") is None
