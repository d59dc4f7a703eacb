"""Reading a CloudFormation/SAM template and its parameters, as CloudFormation would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from . import language_extensions
from .model import DeployError


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def read_template(path: str | Path) -> dict[str, Any]:
    """A template (YAML or JSON) as written, short-form tags expanded to their long form."""
    path = Path(path)
    try:
        with path.open() as f:
            data = yaml.load(f, Loader=_CfnLoader)  # noqa: S506  # nosec B506  # _CfnLoader is a SafeLoader
    except OSError as exc:
        raise DeployError(f"cannot read template {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise DeployError(f"template {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise DeployError(f"template {path} has no Resources section")
    return data


def load_template(path: str | Path, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """A template as the SAM transform reads it: AWS::LanguageExtensions expanded (every Fn::ForEach
    written out, its Fn::FindInMap resolved), with `parameters` or the defaults."""
    return language_extensions.expand(read_template(path), parameters)


def resolve_parameters(template: dict[str, Any], overrides: dict[str, Any] | None, path: Path) -> dict[str, Any]:
    """Parameter values (defaults, then overrides), validated like CloudFormation validates them."""
    declared = template.get("Parameters") or {}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise DeployError(f"{path.name} declares no parameter(s) {', '.join(unknown)}; known: {', '.join(declared)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            raw = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise DeployError(f"parameter {name} has no default: pass it in parameters={{...}}")
        values[name] = _parameter_value(name, spec, raw)
    return values


def _parameter_value(name: str, spec: dict[str, Any], raw: Any) -> Any:
    ptype = spec.get("Type", "String")
    if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
        items = raw if isinstance(raw, list) else [s.strip() for s in str(raw).split(",") if s.strip()]
        return [str(v) for v in items]
    text = str(raw).lower() if isinstance(raw, bool) else str(raw)
    if ptype == "Number":
        try:
            number = float(text)
        except ValueError:
            raise DeployError(f"parameter {name} must be a number, got {text!r}") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise DeployError(f"parameter {name}={text} is below MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise DeployError(f"parameter {name}={text} is above MaxValue {spec['MaxValue']}")
    allowed = spec.get("AllowedValues")
    if allowed is not None and text not in [str(a) for a in allowed]:
        raise DeployError(f"parameter {name}={text!r} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, text):
        raise DeployError(f"parameter {name}={text!r} does not match AllowedPattern {pattern}")
    return text
