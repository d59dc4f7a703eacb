"""The AWS::LanguageExtensions transform, expanded the way CloudFormation does before the SAM transform.

CloudFormation runs the transforms of `Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]` in
order, so the SAM transform reads the template with every loop expanded. This module does that step:

- `Fn::ForEach::<Loop>: [Identifier, Collection, {OutputKey: OutputValue}]` in Resources, Conditions and
  Outputs, and as a key of any mapping below them (resource properties), loops nested. The collection is a
  list of strings or a Ref to a CommaDelimitedList parameter. The identifier's value replaces `${Id}` (and
  `&{Id}`, the value without its non-alphanumeric characters) in output keys and in Fn::Sub strings, and
  replaces `{"Ref": Id}`. Like CloudFormation it replaces nothing else: not other strings, not the
  condition name of Fn::If.
- Ref and Fn::GetAtt may take an intrinsic argument (`Ref: !Sub "${Sync}Function"`): it is resolved.
- An Fn::Sub left with no `${...}` becomes its plain string.
- Fn::FindInMap (with the transform's DefaultValue), Fn::Length and Fn::ToJsonString are resolved when their
  arguments are literal once the loops are expanded; otherwise they stay for deploy time.

tests/sandbox/test_stack_language_extensions.py checks the result against SAM CLI's own expander.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from .model import DeployError

TRANSFORM = "AWS::LanguageExtensions"
FOREACH = "Fn::ForEach::"
SECTIONS = ("Conditions", "Resources", "Outputs")  # where the transform's functions apply
Scope = dict[str, str]  # loop identifier -> its value in this iteration


def uses_language_extensions(template: dict[str, Any]) -> bool:
    transform = template.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    return TRANSFORM in names


def expand(template: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The template as the next transform sees it (a new dict); unchanged if it does not use the transform.
    `parameters` are the stack's parameter values (a CommaDelimitedList as a list); defaults fill the rest."""
    if not uses_language_extensions(template):
        return template
    out = copy.deepcopy(template)
    expander = _Expander(out, parameters or {})
    for section in SECTIONS:
        if isinstance(out.get(section), dict):
            out[section] = expander.mapping(out[section], {})
    remaining = [t for t in out["Transform"] if t != TRANSFORM] if isinstance(out["Transform"], list) else []
    if remaining:
        out["Transform"] = remaining[0] if len(remaining) == 1 else remaining
    else:
        del out["Transform"]
    return out


def _substitute(text: str, scope: Scope) -> str:
    for name, value in scope.items():
        text = text.replace("${" + name + "}", value)
        text = text.replace("&{" + name + "}", re.sub(r"[^0-9A-Za-z]", "", value))
    return text


def _is_intrinsic(value: Any) -> bool:
    """Whether a value holds an intrinsic function anywhere (then only deploy time can resolve it)."""
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            if key in ("Ref", "Condition") or key.startswith("Fn::"):
                return True
        return any(_is_intrinsic(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_intrinsic(v) for v in value)
    return False


class _Expander:
    def __init__(self, template: dict[str, Any], parameters: dict[str, Any]) -> None:
        self.mappings = template.get("Mappings") or {}
        self.declared = template.get("Parameters") or {}
        self.parameters = parameters
        self.functions = {
            "Ref": self._ref,
            "Fn::Sub": self._sub,
            "Fn::GetAtt": lambda arg, scope: {"Fn::GetAtt": self.value(arg, scope)},
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Length": self._length,
            "Fn::ToJsonString": self._to_json_string,
        }

    # -- structure
    def value(self, node: Any, scope: Scope) -> Any:
        if isinstance(node, list):
            return [self.value(v, scope) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key in self.functions:
                return self.functions[key](arg, scope)
        return self.mapping(node, scope)

    def mapping(self, node: dict[str, Any], scope: Scope) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key.startswith(FOREACH):
                entries = self._loop(key, value, scope)
            else:
                entries = {_substitute(key, scope): self.value(value, scope)}
            clash = sorted(set(out) & set(entries))
            if clash:
                raise DeployError(f"{key} produces keys that already exist: {', '.join(clash)}")
            out.update(entries)
        return out

    def _loop(self, key: str, spec: Any, scope: Scope) -> dict[str, Any]:
        if not (isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str) and isinstance(spec[2], dict)):
            raise DeployError(f"{key} must be [Identifier, Collection, {{OutputKey: OutputValue}}]")
        identifier, collection, body = spec
        if identifier in self.declared or identifier in scope:
            raise DeployError(f"{key}: identifier {identifier!r} is already a parameter or an outer loop's identifier")
        if key.removeprefix(FOREACH) in self.declared:
            raise DeployError(f"{key}: loop name {key.removeprefix(FOREACH)!r} is a parameter's name")
        out: dict[str, Any] = {}
        for item in self._collection(key, collection, scope):
            entries = self.mapping(body, {**scope, identifier: item})
            clash = sorted(set(out) & set(entries))
            if clash:
                raise DeployError(f"{key} produces {', '.join(clash)} more than once")
            out.update(entries)
        return out

    def _collection(self, key: str, collection: Any, scope: Scope) -> list[str]:
        items = self.value(collection, scope)
        if isinstance(items, dict) and set(items) == {"Ref"} and items["Ref"] in self.declared:
            name = items["Ref"]
            items = self.parameters.get(name, self.declared[name].get("Default", []))
            if isinstance(items, str):
                items = [s.strip() for s in items.split(",") if s.strip()]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise DeployError(f"{key}: the collection must be a list of strings or a Ref to a list parameter")
        return items

    # -- functions
    def _ref(self, arg: Any, scope: Scope) -> Any:
        target = self.value(arg, scope) if isinstance(arg, (dict, list)) else arg
        if isinstance(target, str) and target in scope:
            return scope[target]
        return {"Ref": target}

    def _sub(self, arg: Any, scope: Scope) -> Any:
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
            text, variables = _substitute(arg[0], scope), self.value(arg[1], scope)
            return text if "${" not in text else {"Fn::Sub": [text, variables]}
        if isinstance(arg, str):
            text = _substitute(arg, scope)
            return text if "${" not in text else {"Fn::Sub": text}
        return {"Fn::Sub": self.value(arg, scope)}

    def _if(self, arg: Any, scope: Scope) -> Any:
        if isinstance(arg, list) and len(arg) == 3:
            return {"Fn::If": [arg[0], self.value(arg[1], scope), self.value(arg[2], scope)]}
        return {"Fn::If": self.value(arg, scope)}

    def _find_in_map(self, arg: Any, scope: Scope) -> Any:
        args = self.value(arg, scope)
        if not isinstance(args, list) or len(args) not in (3, 4) or not all(isinstance(a, str) for a in args[:3]):
            return {"Fn::FindInMap": args}
        name, top, second = args[:3]
        try:
            return copy.deepcopy(self.mappings[name][top][second])
        except (KeyError, TypeError):
            default = args[3] if len(args) == 4 and isinstance(args[3], dict) else {}
            if "DefaultValue" in default:
                return default["DefaultValue"]
            raise DeployError(f"Fn::FindInMap {args}: Mappings has no such entry") from None

    def _length(self, arg: Any, scope: Scope) -> Any:
        items = self.value(arg, scope)
        return len(items) if isinstance(items, list) and not _is_intrinsic(items) else {"Fn::Length": items}

    def _to_json_string(self, arg: Any, scope: Scope) -> Any:
        content = self.value(arg, scope)
        if isinstance(content, (dict, list)) and not _is_intrinsic(content):
            return json.dumps(content, separators=(",", ":"))
        return {"Fn::ToJsonString": content}
