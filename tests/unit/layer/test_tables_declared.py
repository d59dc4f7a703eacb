"""Every table the layer declares (core/tables.py) is the template's: the same keys, the same indexes with
the same keys, reached through the environment variable the template sets and the settings field read."""

from pathlib import Path

import pytest

from fleet_sync.core.settings import Settings
from fleet_sync.core.tables import TABLES, Table
from sandbox.stack import load_template

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]


def key_names(schema):
    return tuple(k["AttributeName"] for k in sorted(schema, key=lambda k: k["KeyType"] != "HASH"))


def test_every_table_of_the_template_is_declared():
    declared = {t.logical_id for t in TABLES}
    in_template = {lid for lid, r in RESOURCES.items() if r["Type"] == "AWS::DynamoDB::Table"}
    assert declared == in_template


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.logical_id)
def test_the_declaration_matches_the_template(table: Table):
    props = RESOURCES[table.logical_id]["Properties"]
    assert key_names(props["KeySchema"]) == table.key_names
    indexes = {i["IndexName"]: key_names(i["KeySchema"]) for i in props.get("GlobalSecondaryIndexes", [])}
    assert indexes == {i.name: i.key_names for i in table.indexes}
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env[table.env_var] == {"Ref": table.logical_id}
    assert table.env_var.lower() in Settings.model_fields


def test_keys_are_built_from_the_declaration():
    table = next(t for t in TABLES if t.logical_id == "RegionStatusTable")
    assert table.key("111111111111", "us-east-1") == {"accountId": "111111111111", "region": "us-east-1"}
    with pytest.raises(ValueError, match="keyed by"):
        table.key("111111111111")
