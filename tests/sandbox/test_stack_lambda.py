"""Handlers run in-process behind moto's Lambda API: context, error envelope, isolation, cold starts."""

import base64
import json
import os
import sys
import textwrap
import threading
import time

import pytest

from sandbox import Sandbox, SandboxError
from sandbox.clock import VirtualClock
from sandbox.local_lambda import LambdaContext, LocalFunction, LocalLambda, error_envelope

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Timeout: 5
    MemorySize: 192
    Layers: [!Ref Lib]
    Environment:
      Variables:
        GREETING: hello
        TABLE: !Ref Table
Resources:
  Lib:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer/}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  First:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: first/}
  Second:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: second/}
  Inline:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context):\\n    return {'inline': event}\\n"
"""

FILES = {
    "layer/greeting_lib.py": "import os\nCALLS = []\n\ndef greet(name):\n    CALLS.append(name)\n"
    "    return f\"{os.environ['GREETING']} {name}\"\n",
    "first/helpers.py": "WHO = 'first'\n",
    "first/app.py": textwrap.dedent(
        """
        import os
        import helpers
        import greeting_lib

        class Boom(Exception):
            pass

        def handler(event, context):
            if event.get("fail"):
                raise Boom(f"failed on {event['fail']}")
            if event.get("unserializable"):
                return {"when": object()}
            return {
                "who": helpers.WHO,
                "greeting": greeting_lib.greet(event.get("name", "x")),
                "calls": len(greeting_lib.CALLS),
                "function": context.function_name,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "remaining": context.get_remaining_time_in_millis(),
                "request": context.aws_request_id,
                "table": os.environ["TABLE"],
            }
        """
    ),
    "second/helpers.py": "WHO = 'second'\n",
    "second/app.py": "import helpers\n\ndef handler(event, context):\n    return {'who': helpers.WHO}\n",
}


@pytest.fixture()
def project(tmp_path):
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "template.yaml"


def invoke(sb, function, event, **kw):
    resp = sb.client("lambda").invoke(FunctionName=sb.function_name(function), Payload=json.dumps(event), **kw)
    return resp, json.loads(resp["Payload"].read() or b"null")


def test_a_test_invoke_reaches_the_handler_with_a_lambda_context(project):
    with Sandbox(template=project) as sb:
        resp, payload = invoke(sb, "First", {"name": "ada"})
        assert "FunctionError" not in resp
        fn = sb.function_name("First")
        assert payload["who"] == "first" and payload["greeting"] == "hello ada"
        assert payload["function"] == fn and payload["arn"].endswith(f":function:{fn}")
        assert payload["memory"] == 192 and 0 < payload["remaining"] <= 5000
        assert payload["table"] == sb.table_name("table")
        assert sb.lambdas is not None and sb.lambdas.invocations[-1].function == fn


def test_exceptions_come_back_as_the_lambda_error_envelope(project):
    with Sandbox(template=project) as sb:
        resp, payload = invoke(sb, "First", {"fail": "purpose"})
        assert resp["FunctionError"] == "Unhandled"
        assert payload["errorType"] == "Boom" and payload["errorMessage"] == "failed on purpose"
        assert any("app.py" in frame for frame in payload["stackTrace"])
        resp, payload = invoke(sb, "First", {"unserializable": True})
        assert resp["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.MarshalError"


def test_same_named_sibling_modules_do_not_shadow_each_other(project):
    with Sandbox(template=project) as sb:
        assert invoke(sb, "First", {})[1]["who"] == "first"
        assert invoke(sb, "Second", {})[1]["who"] == "second"
        assert "helpers" not in sys.modules


def test_inline_code_and_async_and_dry_run_invocations(project):
    with Sandbox(template=project) as sb:
        assert invoke(sb, "Inline", {"a": 1})[1] == {"inline": {"a": 1}}
        resp = sb.client("lambda").invoke(FunctionName=sb.function_name("Second"), InvocationType="Event")
        assert resp["StatusCode"] == 202
        resp = sb.client("lambda").invoke(FunctionName=sb.function_name("Second"), InvocationType="DryRun")
        assert resp["StatusCode"] == 204


def test_containers_are_warm_within_a_sandbox_and_cold_in_the_next(project):
    with Sandbox(template=project) as sb:
        assert [invoke(sb, "First", {})[1]["calls"] for _ in range(3)] == [1, 2, 3]
    with Sandbox(template=project) as sb:
        assert invoke(sb, "First", {})[1]["calls"] == 1


def test_modules_imported_before_the_sandbox_are_restored_after_it(project):
    layer = str(project.parent / "layer")
    sys.path.insert(0, layer)
    try:
        import greeting_lib  # type: ignore[import-not-found]  # the fixture project's layer, put on sys.path above

        greeting_lib.CALLS.append("outside")
        with Sandbox(template=project) as sb:
            assert invoke(sb, "First", {})[1]["calls"] == 1  # a fresh copy, not the one outside
        assert sys.modules["greeting_lib"] is greeting_lib and greeting_lib.CALLS == ["outside"]
    finally:
        sys.path.remove(layer)
        sys.modules.pop("greeting_lib", None)


def test_the_environment_is_the_stacks_while_open_and_restored_after(project, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "real-profile")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://example.invalid")
    monkeypatch.setenv("GREETING", "outside")
    before = dict(os.environ)
    with Sandbox(template=project) as sb:
        assert "AWS_PROFILE" not in os.environ and "AWS_ENDPOINT_URL" not in os.environ
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing" and os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
        assert os.environ["GREETING"] == "hello" and os.environ["TABLE"] == sb.table_name("table")
        assert os.environ["POWERTOOLS_TRACE_DISABLED"] == "1"
    assert dict(os.environ) == before


def test_one_sandbox_at_a_time(project):
    with Sandbox(template=project), pytest.raises(SandboxError, match="another Sandbox is open"):
        Sandbox(template=project).__enter__()
    with Sandbox(template=project) as sb:  # the failed attempt left nothing behind
        assert sb.function_name("Second")


def test_names_are_looked_up_by_logical_id_or_short_name(project):
    with Sandbox(template=project) as sb:
        assert sb.table_name("table") == sb.table_name("Table") == sb.physical_id("Table")
        with pytest.raises(SandboxError, match="no function 'Nope'"):
            sb.function_name("Nope")
        with pytest.raises(SandboxError, match="unknown table 'nope'; this template defines: table"):
            sb.table_name("nope")
        with pytest.raises(SandboxError, match="unknown sync 'inventory'; this template defines: none"):
            sb.run_sync("inventory")


def test_clients_act_as_the_account_they_are_made_for(project):
    with Sandbox(template=project) as sb:
        assert sb.client("sts").get_caller_identity()["Account"] == "123456789012"
        other = sb.client("sts", account="111111111111", region="eu-west-1")
        assert other.get_caller_identity()["Account"] == "111111111111"
        assert other.meta.region_name == "eu-west-1"
        sb.client("iam", account="111111111111").create_role(RoleName="only-there", AssumeRolePolicyDocument="{}")
        names = [r["RoleName"] for r in sb.client("iam").list_roles()["Roles"]]
        assert "only-there" not in names


def test_items_returns_plain_json_types(project):
    with Sandbox(template=project) as sb:
        sb.client("dynamodb").put_item(
            TableName=sb.table_name("table"),
            Item={
                "pk": {"S": "a"},
                "n": {"N": "3"},
                "f": {"N": "1.5"},
                "ss": {"SS": ["b", "a"]},
                "b": {"B": b"hi"},
                "m": {"M": {"l": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]}}},
            },
        )
        (item,) = sb.items("table")
        assert item == {
            "pk": "a",
            "n": 3,
            "f": 1.5,
            "ss": ["a", "b"],
            "b": base64.b64encode(b"hi").decode(),
            "m": {"l": [1, True, None]},
        }
        json.dumps(item)


def test_runtime_unit_behaviour(tmp_path):
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    runtime = LocalLambda()
    runtime.register(LocalFunction(name="fn", handler="app.handler", code_dir=tmp_path, arn="arn:x"))
    runtime.register(LocalFunction(name="bad", handler="app.missing", code_dir=tmp_path))
    assert runtime.invoke("arn:aws:lambda:us-east-1:1:function:fn:$LATEST", {"a": 1}) == ({"a": 1}, None)
    result, error = runtime.invoke("bad", {})
    assert (
        result is None
        and error is not None
        and error["errorType"] == "ImportError"
        and "missing" in error["errorMessage"]
    )
    with pytest.raises(KeyError):
        runtime.invoke("unknown", {})
    ctx = LambdaContext(LocalFunction(name="fn", handler="app.handler", timeout=1))
    assert ctx.log_group_name == "/aws/lambda/fn" and ctx.get_remaining_time_in_millis() <= 1000
    try:
        raise ValueError("x")
    except ValueError as exc:
        assert error_envelope(exc, "r")["errorType"] == "ValueError"


def test_a_function_past_its_timeout_is_stopped_and_fails_as_lambda_reports_it(tmp_path):
    (tmp_path / "app.py").write_text("def handler(event, context):\n    while True:\n        pass\n")
    runtime = LocalLambda(clock=VirtualClock().start())
    runtime.register(LocalFunction(name="spin", handler="app.handler", code_dir=tmp_path, timeout=1))
    started = time.monotonic()
    result, error = runtime.invoke("spin", {})
    assert result is None and error is not None
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert not [t for t in threading.enumerate() if t.name.startswith("lambda spin")]  # the container stopped
    assert time.monotonic() - started < 10
    assert runtime.invocations[-1].error_type == "Sandbox.Timedout"
    runtime.clock.stop()
