"""ARNs the layer writes take their partition from the region, never `arn:aws` (China, GovCloud)."""

import json
from pathlib import Path

import pytest

from fleet_sync.core.aws import partition
from fleet_sync.run.accounts import AccountRecord
from fleet_sync.syncs.tags.tagging import server_arn

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("region", "expected"), [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_default_role_and_server_arns_are_in_the_regions_partition(monkeypatch, region, expected):
    monkeypatch.setenv("AWS_REGION", region)
    assert partition() == expected
    role = AccountRecord(accountId="111111111111").role_arn("DrsFleetSyncRole")
    assert role == f"arn:{expected}:iam::111111111111:role/DrsFleetSyncRole"
    arn = server_arn("111111111111", region, "s-1")
    assert arn == f"arn:{expected}:drs:{region}:111111111111:source-server/s-1"


def test_the_workflow_names_its_service_integrations_in_the_stacks_partition():
    text = (ROOT / "statemachines/sync.asl.json").read_text()
    resources = [s.get("Resource") for s in _states(json.loads(text)) if s.get("Resource")]
    assert resources and all(r.startswith("arn:${Partition}:states:::") for r in resources)


def _states(definition):
    for state in definition.get("States", {}).values():
        yield state
        for nested in (state.get("ItemProcessor"), *(state.get("Branches") or [])):
            if nested:
                yield from _states(nested)
