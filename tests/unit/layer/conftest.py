"""Layer tests run on moto DynamoDB tables created from template.yaml's own definitions."""

from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def table_definition(logical_id: str) -> dict:
    """CreateTable arguments for one table exactly as template.yaml declares it."""
    props = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Resources"][logical_id]["Properties"]
    kwargs = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if k in props}
    return {"TableName": logical_id, "BillingMode": props["BillingMode"], **kwargs}


@pytest.fixture()
def aws(monkeypatch):
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.resource("dynamodb", region_name="us-east-1")


@pytest.fixture()
def tables(aws):
    def make(*logical_ids: str):
        return [aws.create_table(**table_definition(lid)) for lid in logical_ids]

    return make
