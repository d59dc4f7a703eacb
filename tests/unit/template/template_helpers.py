"""The templates the checks run on (the product's and the sandbox's smoke fixture) and small readers."""

from functools import cache
from pathlib import Path

from sandbox.stack import read_template

ROOT = Path(__file__).resolve().parents[3]
PRODUCT = ROOT / "template.yaml"
TEMPLATES = {
    "product": PRODUCT,
    "smoke": ROOT / "tests/fixtures/smoke/template.yaml",
}
SERVERLESS_MACHINE = "AWS::Serverless::StateMachine"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SYNC_LOOP = "Fn::ForEach::SyncResources"  # the template's loop over its list of syncs


def resources_of(template: dict, rtype: str) -> dict[str, dict]:
    return {lid: r.get("Properties") or {} for lid, r in template["Resources"].items() if r["Type"] == rtype}


def function_property(template: dict, props: dict, key: str, default=None):
    """A function's property, falling back to Globals.Function like SAM does."""
    return props.get(key, ((template.get("Globals") or {}).get("Function") or {}).get(key, default))


@cache
def template_syncs() -> dict[str, str]:
    """The product template's list of syncs: sync name -> its Pascal id (from Mappings.Syncs)."""
    source = read_template(PRODUCT)
    _identifier, pascal_ids, _body = source["Resources"][SYNC_LOOP]
    return {source["Mappings"]["Syncs"][pascal]["Name"]: pascal for pascal in pascal_ids}


def machine_of(sync: str) -> str:
    """Logical id of a sync's state machine."""
    return f"{template_syncs()[sync]}SyncStateMachine"
