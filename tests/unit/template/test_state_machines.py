"""Every state machine: substitutions match its placeholders, moto accepts it, and it is well linked."""

import json

import boto3
import pytest
from moto import mock_aws
from template_helpers import ROOT, SERVERLESS_MACHINE, TEMPLATES, resources_of

from sandbox import stack
from sandbox.asl_check import check, placeholders

MACHINES = [
    (name, lid)
    for name, path in sorted(TEMPLATES.items())
    for lid in sorted(resources_of(stack.load_template(path), SERVERLESS_MACHINE))
]


@pytest.fixture(scope="module")
def deployments():
    """Each template deployed once into moto: its state machines created by the executing backend."""
    out = {}
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        for name, path in TEMPLATES.items():
            translated = stack.translate(path)
            out[name] = stack.deploy(translated, lambda service: boto3.client(service, region_name="us-east-1"))
    return out


def definition_file(template_name, lid):
    path = TEMPLATES[template_name]
    props = stack.load_template(path)["Resources"][lid]["Properties"]
    return path.parent / props["DefinitionUri"], props.get("DefinitionSubstitutions") or {}


def test_there_are_state_machines_to_check():
    assert any(name == "smoke" for name, _ in MACHINES)


@pytest.mark.parametrize(("template_name", "lid"), MACHINES, ids=lambda v: v)
def test_substitution_keys_are_exactly_the_placeholders(template_name, lid):
    file, substitutions = definition_file(template_name, lid)
    used = placeholders(file.read_text())
    assert sorted(used - set(substitutions)) == [], f"{file.name} uses placeholders the template does not substitute"
    assert sorted(set(substitutions) - used) == [], f"{lid} substitutes keys {file.name} never uses"


@pytest.mark.parametrize(("template_name", "lid"), MACHINES, ids=lambda v: v)
def test_definition_parses_in_moto_and_is_well_linked(deployments, template_name, lid):
    machine = deployments[template_name].resources[lid]  # deploy() created it: moto's parser accepted it
    definition = json.loads(machine.attributes["Definition"])
    assert check(definition) == []


def test_every_asl_file_belongs_to_a_state_machine():
    used = {
        (path.parent / props["DefinitionUri"]).resolve()
        for path in TEMPLATES.values()
        for props in resources_of(stack.load_template(path), SERVERLESS_MACHINE).values()
    }
    files = {p.resolve() for p in (ROOT / "statemachines").glob("*.asl.json")}
    assert sorted(str(p.relative_to(ROOT)) for p in files - used) == []


@pytest.mark.parametrize("lid", [lid for name, lid in MACHINES if name == "product"])
def test_every_sync_times_out_before_its_lock_lease(deployments, lid):
    # A run still RUNNING keeps its lock whatever its age: only a timeout below the lease bounds its hold.
    from fleet_sync.run.sync_state import LOCK_LEASE_SECONDS, RUN_TIMEOUT_SECONDS

    definition = json.loads(deployments["product"].resources[lid].attributes["Definition"])
    assert definition.get("TimeoutSeconds") == RUN_TIMEOUT_SECONDS
    assert RUN_TIMEOUT_SECONDS < LOCK_LEASE_SECONDS
