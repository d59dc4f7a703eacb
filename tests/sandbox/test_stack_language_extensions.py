"""AWS::LanguageExtensions in the sandbox: expanded as CloudFormation does, checked against SAM CLI's own
expander (samcli.lib.cfn_language_extensions, run in .venv-sam), then deployed."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from sandbox import stack
from sandbox.stack import DeployError, expand

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-sam/bin/python"
SAM_EXPANDER = Path(__file__).with_name("sam_language_extensions.py")
TRANSFORMS = ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]

# Every form the transform defines that the sandbox supports: loops in Resources, Conditions, Outputs and
# resource properties, nested loops, &{}, a collection from a CommaDelimitedList parameter, Ref and GetAtt
# with an intrinsic argument, Fn::FindInMap (with DefaultValue), Fn::Length and Fn::ToJsonString.
EVERY_FORM = """
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Parameters:
  Queues: {Type: CommaDelimitedList, Default: "orders,refunds"}
  Switch: {Type: String, Default: "on"}
Mappings:
  Colors:
    Red: {Code: ff0000, Size: big}
    Blue: {Code: 0000ff}
Conditions:
  Fn::ForEach::Switches:
    - Color
    - [Red, Blue]
    - ${Color}On: !Equals [!Ref Switch, "on"]
Resources:
  Fn::ForEach::Topics:
    - Color
    - [Red, Blue]
    - ${Color}Topic:
        Type: AWS::SNS::Topic
        Properties:
          TopicName: !Sub
            - "${AWS::StackName}-${Code}"
            - Code: !FindInMap [Colors, !Ref Color, Code]
          DisplayName: !FindInMap [Colors, !Ref Color, Size, {DefaultValue: small}]
          Tags:
            - Key: queues
              Value: !ToJsonString {count: !Length [a, b, c], names: [x, y]}
      Fn::ForEach::QueueTables:
        - Queue
        - !Ref Queues
        - ${Color}&{Queue}Table:
            Type: AWS::DynamoDB::Table
            Properties:
              TableName: !Sub "${AWS::StackName}-${Color}-${Queue}"
              BillingMode: PAY_PER_REQUEST
              AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
              KeySchema: [{AttributeName: pk, KeyType: HASH}]
              Tags:
                - {Key: topic, Value: {Ref: !Sub "${Color}Topic"}}
                - {Key: arn, Value: !GetAtt [!Sub "${Color}Topic", TopicArn]}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Condition: BlueOn
    Properties:
      MetricName: Errors
      Namespace: Test
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: !Length [1, 2]
      ComparisonOperator: GreaterThanOrEqualToThreshold
      Fn::ForEach::Flags:
        - Flag
        - [ActionsEnabled]
        - ${Flag}: false
Outputs:
  Fn::ForEach::TopicArns:
    - Color
    - [Red, Blue]
    - ${Color}TopicArn:
        Value: {Ref: !Sub "${Color}Topic"}
"""


def write(tmp_path, body, name="template.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def sam_expand(*paths):
    """SAM CLI's expansion of each template, in its own venv (it pins another boto3 than ours)."""
    if not SAM_PYTHON.exists():
        pytest.skip(f"{SAM_PYTHON} is missing: `make test` builds it (SAM CLI's venv)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"SAM_CLI_TELEMETRY": "0"}
    done = subprocess.run(  # nosec B603  # our own script, our venv's interpreter
        [str(SAM_PYTHON), str(SAM_EXPANDER), *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def loops_left(node):
    if isinstance(node, dict):
        return [k for k in node if k.startswith("Fn::ForEach::")] + [x for v in node.values() for x in loops_left(v)]
    if isinstance(node, list):
        return [x for v in node for x in loops_left(v)]
    return []


# ------------------------------------------------------------------ against SAM CLI's expander


@pytest.mark.parametrize("template", ["product", "every form"])
def test_the_expansion_is_the_one_sam_cli_makes(tmp_path, template):
    # Given a template, expanded by the sandbox and by SAM CLI
    path = ROOT / "template.yaml" if template == "product" else write(tmp_path, EVERY_FORM)
    ours = stack.load_template(path)
    (tmp_path / "ours.json").write_text(json.dumps(ours))
    # SAM CLI also resolves parameters, conditions and Fn::Sub locally: expand ours again to compare
    theirs, ours_by_sam = sam_expand(path, tmp_path / "ours.json")
    # Then the sandbox wrote out every loop, into the same resources, conditions and outputs
    assert loops_left(ours) == []
    for section in ("Resources", "Conditions", "Outputs"):
        assert sorted(ours.get(section, {})) == sorted(theirs.get(section, {})), section
        assert ours_by_sam.get(section) == theirs.get(section), section
    for lid, resource in theirs["Resources"].items():
        assert (ours["Resources"][lid]["Type"], ours["Resources"][lid].get("Condition")) == (
            resource["Type"],
            resource.get("Condition"),
        ), lid
    assert ours["Transform"] == "AWS::Serverless-2016-10-31"


def test_the_product_expands_into_one_set_of_resources_per_sync():
    source = stack.read_template(ROOT / "template.yaml")
    expanded = stack.load_template(ROOT / "template.yaml")
    identifier, syncs, body = source["Resources"]["Fn::ForEach::SyncResources"]
    assert identifier == "Sync" and syncs == list(source["Mappings"]["Syncs"])
    for sync in syncs:
        for key, resource in body.items():
            lid = key.replace("${Sync}", sync)
            assert expanded["Resources"][lid]["Type"] == resource["Type"], lid
    machine = expanded["Resources"]["RecoveryInstancesSyncStateMachine"]["Properties"]
    assert machine["DefinitionSubstitutions"]["SyncName"] == "recovery-instances"  # from Mappings, resolved
    assert machine["DefinitionSubstitutions"]["WorkerFunctionArn"] == {
        "Fn::GetAtt": ["RecoveryInstancesWorkerFunction", "Arn"]
    }


# ------------------------------------------------------------------ what the transform does


def test_values_reach_keys_sub_strings_and_refs_only(tmp_path):
    template = {
        "Transform": TRANSFORMS,
        "Resources": {
            "Fn::ForEach::Things": [
                "Thing",
                ["a-1", "b"],
                {
                    "&{Thing}Topic": {
                        "Type": "AWS::SNS::Topic",
                        "Properties": {
                            "TopicName": {"Fn::Sub": "${Thing}-${AWS::StackName}"},
                            "DisplayName": {"Ref": "Thing"},
                            "Plain": "${Thing}",
                            "State": {"Fn::If": ["${Thing}On", {"Fn::Sub": "${Thing}"}, "no"]},
                            "Same": {"Fn::Sub": ["x-${Thing}", {}]},
                        },
                    }
                },
            ]
        },
    }
    out = expand(template)
    assert sorted(out["Resources"]) == ["a1Topic", "bTopic"]
    props = out["Resources"]["a1Topic"]["Properties"]
    assert props["TopicName"] == {"Fn::Sub": "a-1-${AWS::StackName}"}
    assert props["DisplayName"] == "a-1"
    assert props["Plain"] == "${Thing}"  # CloudFormation replaces the identifier in Fn::Sub strings only
    assert props["State"] == {"Fn::If": ["${Thing}On", "a-1", "no"]}  # nor in a condition name
    assert props["Same"] == "x-a-1"  # nothing left to substitute: a plain string
    assert out["Transform"] == "AWS::Serverless-2016-10-31"
    assert "Fn::ForEach::Things" in template["Resources"]  # the input is left alone


def test_find_in_map_length_and_to_json_string_wait_for_deploy_time_when_not_literal():
    template = {
        "Transform": "AWS::LanguageExtensions",
        "Parameters": {"Key": {"Type": "String", "Default": "a"}},
        "Mappings": {"M": {"a": {"v": "1"}}},
        "Resources": {
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "A": {"Fn::FindInMap": ["M", {"Ref": "Key"}, "v"]},
                    "B": {"Fn::Length": {"Ref": "List"}},
                    "C": {"Fn::ToJsonString": {"k": {"Ref": "Key"}}},
                    "D": {"Fn::ToJsonString": [1, {"a": "b"}]},
                },
            }
        },
    }
    props = expand(template)["Resources"]["Topic"]["Properties"]
    assert props["A"] == {"Fn::FindInMap": ["M", {"Ref": "Key"}, "v"]}
    assert props["B"] == {"Fn::Length": {"Ref": "List"}}
    assert props["C"] == {"Fn::ToJsonString": {"k": {"Ref": "Key"}}}
    assert props["D"] == '[1,{"a":"b"}]'
    assert "Transform" not in expand(template)


def test_a_template_without_the_transform_is_returned_as_is():
    template = {"Resources": {"Fn::ForEach::X": ["I", ["a"], {}]}}
    assert expand(template) is template


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"Fn::ForEach::L": ["I", ["a"]]}, "must be \\[Identifier, Collection"),
        ({"Fn::ForEach::L": ["Name", ["a"], {"${Name}X": {}}]}, "identifier 'Name' is already a parameter"),
        ({"Fn::ForEach::Name": ["I", ["a"], {"${I}X": {}}]}, "loop name 'Name' is a parameter's name"),
        ({"Fn::ForEach::L": ["I", ["a", "a"], {"${I}X": {}}]}, "produces aX more than once"),
        ({"X": {}, "Fn::ForEach::L": ["I", ["X"], {"${I}": {}}]}, "produces keys that already exist: X"),
        ({"Fn::ForEach::L": ["I", {"Fn::GetAtt": ["A", "B"]}, {"${I}": {}}]}, "must be a list of strings"),
        ({"T": {"Properties": {"V": {"Fn::FindInMap": ["M", "x", "y"]}}}}, "Mappings has no such entry"),
        (
            {"Fn::ForEach::O": ["I", ["a"], {"Fn::ForEach::N": ["I", ["b"], {"${I}": {}}]}]},
            "outer loop's identifier",
        ),
    ],
)
def test_malformed_loops_are_refused_with_their_reason(resources, message):
    template = {"Transform": TRANSFORMS, "Parameters": {"Name": {"Type": "String"}}, "Resources": resources}
    with pytest.raises(DeployError, match=message):
        expand(template)


def test_a_collection_parameter_takes_the_stacks_value(tmp_path):
    path = write(tmp_path, EVERY_FORM)
    expanded = stack.load_template(path, {"Queues": ["a", "b-c", "d"]})
    tables = {lid for lid in expanded["Resources"] if "Table" in lid}
    assert tables == {f"{color}{queue}Table" for color in ("Red", "Blue") for queue in ("a", "bc", "d")}
    assert stack.translate(path, {"Queues": "x"}).sam["Resources"].keys() >= {"RedxTable", "BluexTable"}


def test_expand_writes_the_expanded_template_for_other_tools(tmp_path):
    out = tmp_path / "build/expanded.json"
    done = subprocess.run(  # nosec B603
        [sys.executable, "-m", "sandbox.stack", "expand", str(ROOT / "template.yaml"), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text()) == stack.load_template(ROOT / "template.yaml")


# ------------------------------------------------------------------ deployed


@pytest.fixture()
def aws(monkeypatch):
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield lambda service: boto3.client(service, region_name="us-east-1")


def test_every_form_deploys_with_deploy_time_intrinsics_resolved(tmp_path, aws):
    dep = stack.deploy(stack.translate(write(tmp_path, EVERY_FORM), {"Switch": "on"}), aws)
    assert {lid for lid in dep.resources if lid.endswith("Table")} == {
        "RedordersTable",
        "RedrefundsTable",
        "BlueordersTable",
        "BluerefundsTable",
    }
    assert dep.physical_id("RedordersTable") == "drs-fleet-sync-Red-orders"
    tags = aws("dynamodb").list_tags_of_resource(ResourceArn=dep.resources["BluerefundsTable"].arn)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"topic": dep.physical_id("BlueTopic")} | {
        "arn": dep.resources["BlueTopic"].attributes["TopicArn"]
    }
    assert dep.physical_id("RedTopic").endswith(":drs-fleet-sync-ff0000")
    assert dep.outputs == {"RedTopicArn": dep.physical_id("RedTopic"), "BlueTopicArn": dep.physical_id("BlueTopic")}
    [alarm] = aws("cloudwatch").describe_alarms(AlarmNames=[dep.physical_id("Alarm")])["MetricAlarms"]
    assert alarm["Threshold"] == 2 and alarm["ActionsEnabled"] is False
    off = stack.deploy(stack.translate(write(tmp_path, EVERY_FORM), {"Switch": "off"}, stack_name="off"), aws)
    assert "Alarm" not in off.resources and "BlueTopic" in off.resources  # a condition the loop generated


def test_functions_generated_by_a_loop_run_from_their_folders(tmp_path, aws):
    for name in ("one", "two"):
        (tmp_path / f"fn_{name}").mkdir()
        (tmp_path / f"fn_{name}/app.py").write_text(f"def handler(event, context):\n    return '{name}'\n")
    path = write(
        tmp_path,
        """
        Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
        Mappings:
          Workers:
            One: {CodeUri: fn_one/}
            Two: {CodeUri: fn_two/}
        Resources:
          Fn::ForEach::Workers:
            - Worker
            - [One, Two]
            - ${Worker}Function:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: !FindInMap [Workers, !Ref Worker, CodeUri]
                  Handler: app.handler
                  Runtime: python3.12
        """,
    )
    dep = stack.deploy(stack.translate(path), aws)
    assert dep.resources["TwoFunction"].local_path == tmp_path / "fn_two"
    assert dep.resources["OneFunction"].local_path == tmp_path / "fn_one"
