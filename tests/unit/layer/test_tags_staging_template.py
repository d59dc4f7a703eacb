"""Least privilege of the tag and staging workers in template.yaml: each reads and writes only the tables
its sync needs. (What every sync's resources share is checked in tests/unit/template/test_syncs.py.)"""

from pathlib import Path

import pytest

from sandbox.stack import load_template

ROOT = Path(__file__).resolve().parents[3]
RESOURCES = load_template(ROOT / "template.yaml")["Resources"]
# worker -> (tables it may read, tables it may read and write)
ACCESS = {
    "TagsWorkerFunction": ({"AccountsTable", "RegionStatusTable", "InventoryTable"}, {"SyncStateTable"}),
    "StagingWorkerFunction": ({"AccountsTable"}, {"StagingExtensionsTable", "SyncStateTable"}),
}


def tables(policies, kind):
    return {p[kind]["TableName"]["Ref"] for p in policies if kind in p}


def statements(policies):
    return [s for p in policies if "Statement" in p for s in p["Statement"]]


@pytest.mark.parametrize("worker", sorted(ACCESS))
def test_the_worker_writes_only_its_own_tables(worker):
    policies = RESOURCES[worker]["Properties"]["Policies"]
    read, write = ACCESS[worker]
    assert tables(policies, "DynamoDBReadPolicy") == read
    assert tables(policies, "DynamoDBCrudPolicy") == write
    assert not tables(policies, "DynamoDBWritePolicy")
    dynamodb = [s for s in statements(policies) if str(s["Action"]).startswith("dynamodb:")]
    if worker == "TagsWorkerFunction":  # the new tags are written through to the inventory, nothing else
        assert dynamodb == [
            {
                "Sid": "WriteNewTagsThroughToTheInventory",
                "Effect": "Allow",
                "Action": "dynamodb:UpdateItem",
                "Resource": {"Fn::GetAtt": ["InventoryTable", "Arn"]},
            }
        ]
    else:  # its pairs' last known server counts (a pair holding servers is never recorded empty), read only
        assert dynamodb == [
            {
                "Sid": "ReadThePairsLastKnownServerCount",
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": {"Fn::GetAtt": ["RegionStatusTable", "Arn"]},
            }
        ]
