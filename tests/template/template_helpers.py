"""The templates the checks run on (the product's and the sandbox's smoke fixture) and small readers."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = {
    "product": ROOT / "template.yaml",
    "smoke": ROOT / "tests/fixtures/smoke/template.yaml",
}
SERVERLESS_MACHINE = "AWS::Serverless::StateMachine"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"


def resources_of(template: dict, rtype: str) -> dict[str, dict]:
    return {lid: r.get("Properties") or {} for lid, r in template["Resources"].items() if r["Type"] == rtype}


def function_property(template: dict, props: dict, key: str, default=None):
    """A function's property, falling back to Globals.Function like SAM does."""
    return props.get(key, ((template.get("Globals") or {}).get("Function") or {}).get(key, default))
