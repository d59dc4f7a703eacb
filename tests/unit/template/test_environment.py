"""Drift guard: every environment variable the code reads is set in Globals, and every one set is read.

The sandbox runs every handler in one process, so design.md asks for variables in Globals only."""

import ast
import importlib.util
import re
from functools import cache
from pathlib import Path

from template_helpers import ROOT, SERVERLESS_FUNCTION, function_property, resources_of

from fleet_sync.core.settings import env_names

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
# What the Lambda runtime itself sets: code may read these without the template setting them.
RUNTIME_VARIABLES = {
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "TZ",
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
}


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def variables_read(source: str) -> set[str]:
    """Names read via os.environ[...] / .get / os.getenv, or declared as pydantic Field aliases."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and _is_environ(node.value):
            found.add(_literal(node.slice))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if (isinstance(func, ast.Attribute) and name == "get" and _is_environ(func.value)) or name == "getenv":
                found.add(_literal(node.args[0]))
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Field":
            for kw in node.keywords:
                if kw.arg in ("alias", "validation_alias"):
                    found.add(_literal(kw.value))
    return {name for name in found if name and ENV_NAME.match(name)}


def code_dirs(template_path: Path, template: dict) -> list[Path]:
    dirs = {
        template_path.parent / str(function_property(template, props, "CodeUri"))
        for props in resources_of(template, SERVERLESS_FUNCTION).values()
    }
    dirs |= {
        template_path.parent / str(props["ContentUri"])
        for props in resources_of(template, "AWS::Serverless::LayerVersion").values()
        if isinstance(props.get("ContentUri"), str)
    }
    return sorted(d.resolve() for d in dirs)


def read_by_code(template_path: Path, template: dict) -> dict[str, set[str]]:
    """variable -> files that read it."""
    readers: dict[str, set[str]] = {}
    for directory in code_dirs(template_path, template):
        for file in directory.rglob("*.py"):
            for name in variables_read(file.read_text()):
                readers.setdefault(name, set()).add(str(file.relative_to(template_path.parent)))
    return readers


@cache
def _powertools_sources() -> str:
    spec = importlib.util.find_spec("aws_lambda_powertools")
    assert spec is not None and spec.origin is not None  # a dependency of the layer, installed in the dev venv
    root = Path(spec.origin).parent
    return "\n".join(p.read_text(errors="ignore") for p in root.rglob("*.py"))


def read_by_libraries(name: str) -> bool:
    """Powertools reads its own POWERTOOLS_* settings from the environment."""
    return name.startswith("POWERTOOLS_") and f'"{name}"' in _powertools_sources()


def globals_variables(template: dict) -> dict:
    function = (template.get("Globals") or {}).get("Function") or {}
    return (function.get("Environment") or {}).get("Variables") or {}


def test_every_variable_the_code_reads_is_set_in_globals(template_path, template):
    readers = read_by_code(template_path, template)
    missing = {
        name: sorted(files)
        for name, files in readers.items()
        if name not in globals_variables(template) and name not in RUNTIME_VARIABLES
    }
    assert missing == {}, "the code reads variables the template does not set"


def test_every_variable_set_is_read_by_something(template_path, template):
    readers = read_by_code(template_path, template)
    unread = sorted(n for n in globals_variables(template) if n not in readers and not read_by_libraries(n))
    assert unread == [], "the template sets variables nothing reads"


def test_variables_are_set_once_in_globals_not_per_function(template):
    per_function = {
        lid: sorted((props.get("Environment") or {}).get("Variables") or {})
        for lid, props in resources_of(template, SERVERLESS_FUNCTION).items()
        if (props.get("Environment") or {}).get("Variables")
    }
    assert per_function == {}


def test_the_scanner_sees_every_settings_field():
    file = ROOT / "functions/shared/fleet_sync/core/settings.py"
    assert env_names() <= variables_read(file.read_text())


def test_the_scanner_recognizes_every_way_of_reading():
    source = """
import os
from os import environ, getenv
from pydantic import Field
a = os.environ["A_VAR"]
b = os.environ.get("B_VAR", "x")
c = os.getenv("C_VAR")
d = environ["D_VAR"]
e = getenv("E_VAR")
class S:
    f: str = Field(alias="F_VAR")
    g: str = Field(default="", validation_alias="G_VAR")
    h: str = Field(alias="notAnEnvName")
os.environ["dynamic" + a]
"""
    assert variables_read(source) == {"A_VAR", "B_VAR", "C_VAR", "D_VAR", "E_VAR", "F_VAR", "G_VAR"}
