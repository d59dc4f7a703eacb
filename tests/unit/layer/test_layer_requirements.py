"""The layer ships exactly the SDK the tests run: every runtime dependency pinned, boto3/botocore included."""

import re
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[a-z,]+\])?==([0-9][0-9A-Za-z.]*)$")


def layer_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "functions/shared/requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = PIN.match(line)
            assert match, f"layer requirement {line!r} is not an exact pin"
            pins[match.group(1).lower()] = match.group(3)
    return pins


def test_the_layer_pins_the_sdk_it_pulls_in():
    # aws-xray-sdk (Powertools' tracer) requires botocore with an open range: unpinned, sam build takes the newest
    pins = layer_pins()
    assert {"boto3", "botocore", "aws-xray-sdk"} <= set(pins)


def test_the_tests_run_the_versions_the_layer_ships():
    for name, pinned in layer_pins().items():
        assert version(name) == pinned, f"{name}: tests run {version(name)}, the layer ships {pinned}"
