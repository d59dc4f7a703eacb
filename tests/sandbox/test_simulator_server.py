"""The standalone HTTP front-end (AWS_ENDPOINT_URL_DRS) and the account encoded in access keys."""

from __future__ import annotations

import json
import random
import threading
import urllib.request

import boto3
import pytest

from sandbox.drs import DrsEngine, ServerSpec, ids
from sandbox.drs.server import DrsWsgiApp, make_server

TARGET = "111111111111"


@pytest.fixture
def standalone(monkeypatch):
    engine = DrsEngine(seed=1)
    server = make_server(app=DrsWsgiApp(engine))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DRS", url)
    yield engine, url
    server.shutdown()
    thread.join()


def _client(account: str, region: str = "us-east-1"):
    return boto3.client(
        "drs",
        region_name=region,
        aws_access_key_id=ids.access_key_for_account(account),
        aws_secret_access_key="x",
    )


@pytest.mark.parametrize("account", ["111111111111", "000000000001", "999999999998", "123456789012"])
def test_access_keys_encode_the_account(account):
    for prefix in ("AKIA", "ASIA"):
        key = ids.access_key_for_account(account, random.Random(3), prefix=prefix)
        assert len(key) == 20 and ids.account_from_access_key(key) == account
    assert ids.account_from_access_key("testing") is None


def test_standalone_server_routes_by_access_key_and_scope(standalone):
    engine, url = standalone
    engine.create_source_server(TARGET, "eu-west-1", ServerSpec(hostname="app-1"))
    c = _client(TARGET, "eu-west-1")
    assert c.meta.endpoint_url == url
    (item,) = c.describe_source_servers()["items"]
    c.tag_resource(resourceArn=item["arn"], tags={"a": "b"})
    assert c.list_tags_for_resource(resourceArn=item["arn"])["tags"] == {"a": "b"}
    assert _client(TARGET, "us-east-1").describe_source_servers()["items"] == []
    assert _client("222222222222", "eu-west-1").describe_source_servers()["items"] == []

    counters = json.load(urllib.request.urlopen(f"{url}/_sim/counters"))
    assert {"accountId": TARGET, "region": "eu-west-1", "operation": "DescribeSourceServers", "calls": 1} in counters[
        "calls"
    ]
    put = urllib.request.Request(
        f"{url}/_sim/faults",
        data=json.dumps([{"region": "eu-west-1", "accessDenied": True}]).encode(),
        method="PUT",
    )
    assert json.load(urllib.request.urlopen(put))["faults"] == [{"region": "eu-west-1", "accessDenied": True}]
    with pytest.raises(c.exceptions.AccessDeniedException):
        c.describe_source_servers()
    bad = urllib.request.Request(f"{url}/_sim/faults", data=b'[{"bogus": 1}]', method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad)
    assert e.value.code == 400
    urllib.request.urlopen(urllib.request.Request(f"{url}/_sim/reset", data=b"", method="POST"))
    assert engine.source_servers(TARGET, "eu-west-1") == [] and engine.faults == []
