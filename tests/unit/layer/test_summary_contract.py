"""The summary contract is the model's: docs/design.md's tables are generated from it, and every summary the
layer builds validates with its sync's model."""

import re
from pathlib import Path

import pytest

from fleet_sync.run.models import RunRecord
from fleet_sync.run.registry import SYNCS
from fleet_sync.run.summary import Summary, contract_table
from fleet_sync.run.tasks import build_summary

DESIGN = Path(__file__).resolve().parents[3] / "docs" / "design.md"
BLOCK = re.compile(r"<!-- summary-contract:start -->\n(.*?)<!-- summary-contract:end -->", re.S)


def test_design_md_documents_the_models_fields():
    expected = contract_table({name: spec.summary_model for name, spec in SYNCS.items()})
    [documented] = BLOCK.findall(DESIGN.read_text())
    assert documented == expected, f"regenerate docs/design.md's summary contract:\n{expected}"


@pytest.mark.parametrize("sync", sorted(SYNCS))
def test_every_syncs_model_extends_the_common_contract_with_described_fields(sync):
    model = SYNCS[sync].summary_model
    assert issubclass(model, Summary)
    assert all(info.description for info in model.model_fields.values())


@pytest.mark.parametrize("sync", sorted(SYNCS))
def test_an_empty_run_summarizes_to_a_valid_summary_of_its_sync(sync):
    options = {"dryRun": False} if sync == "staging" else {}
    run = RunRecord(sync=sync, runId="r", executionArn="arn", decision="skipped", options=options)
    dumped = build_summary(SYNCS[sync], run, []).dump()
    assert SYNCS[sync].summary_model.model_validate(dumped).sync == sync
    with pytest.raises(ValueError, match="unexpected"):
        SYNCS[sync].summary_model.model_validate({**dumped, "unexpected": 1})  # the contract is closed
