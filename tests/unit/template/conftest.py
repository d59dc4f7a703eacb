"""Template checks run on the product's template.yaml and on the sandbox's smoke fixture template."""

from pathlib import Path

import pytest
from template_helpers import TEMPLATES

from sandbox.stack import load_template


@pytest.fixture(params=sorted(TEMPLATES), scope="module")
def template_path(request) -> Path:
    return TEMPLATES[request.param]


@pytest.fixture(scope="module")
def template(template_path) -> dict:
    return load_template(template_path)
