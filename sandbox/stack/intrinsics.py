"""CloudFormation's intrinsic functions and conditions, resolved against parameters and created resources."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from .model import NO_VALUE, DeployError, Resource, pseudo_parameters
from .translate import Translated


class Resolver:
    """Resolves intrinsic functions (Ref, GetAtt, Sub, Join, If, FindInMap, ...) as CloudFormation does at
    deploy time. A reference to a skipped resource resolves to a placeholder, so the rest still deploys."""

    def __init__(self, translated: Translated, resources: dict[str, Resource]) -> None:
        self.t = translated
        self.resources = resources
        self.conditions_decl = translated.cfn.get("Conditions") or {}
        self.mappings = translated.cfn.get("Mappings") or {}
        self._conditions: dict[str, bool] = {}
        self.pseudo = {
            **pseudo_parameters(translated.stack_name, translated.account, translated.region),
            "AWS::NotificationARNs": [],
        }

    # -- conditions
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.conditions_decl:
                raise DeployError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.evaluate(self.conditions_decl[name]))
        return self._conditions[name]

    def evaluate(self, expr: Any) -> Any:
        """A condition expression (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition) or any value."""
        if isinstance(expr, dict) and len(expr) == 1:
            ((fn, arg),) = expr.items()
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self.evaluate(arg[0])
            if fn == "Fn::And":
                return all(self.evaluate(x) for x in arg)
            if fn == "Fn::Or":
                return any(self.evaluate(x) for x in arg)
        return self.resolve(expr)

    # -- values
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            fn = _INTRINSICS.get(key)
            if fn is not None:
                return fn(self, arg)
        out = {}
        for k, v in value.items():
            r = self.resolve(v)
            if r is not NO_VALUE:
                out[k] = r
        return out

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.t.parameters:
            return self.t.parameters[name]
        if name in self.resources:
            return self.resources[name].physical_id
        raise DeployError(f"Ref to {name!r}, which is neither a parameter nor a created resource")

    def get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        lid, attr = arg[0], self.resolve(arg[1])
        res = self.resources.get(lid)
        if res is None:
            raise DeployError(f"GetAtt {lid}.{attr}: {lid} is not a created resource")
        if attr not in res.attributes:
            if res.skipped:
                return f"arn:aws:sandbox:{self.t.region}:{self.t.account}:skipped/{lid}/{attr}"
            raise DeployError(f"GetAtt {lid}.{attr}: {res.type} has no attribute {attr!r} in the sandbox")
        return res.attributes[attr]

    def sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, variables = arg, {}

        def replace(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return str(self.get_att(name.split(".", 1)))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def find_in_map(self, arg: list[Any]) -> Any:
        m, k1, k2 = (self.resolve(a) for a in arg[:3])
        try:
            return self.mappings[m][k1][k2]
        except KeyError:
            default = self.resolve(arg[3]) if len(arg) == 4 else {}
            if isinstance(default, dict) and "DefaultValue" in default:
                return default["DefaultValue"]
            raise DeployError(f"FindInMap {m}/{k1}/{k2} is not in Mappings") from None


def _fn_join(r: Resolver, arg: list[Any]) -> str:
    sep, items = arg
    return str(sep).join(str(x) for x in r.resolve(items))


def _fn_if(r: Resolver, arg: list[Any]) -> Any:
    name, yes, no = arg
    return r.resolve(yes if r.condition(name) else no)


def _fn_select(r: Resolver, arg: list[Any]) -> Any:
    index, items = arg
    return r.resolve(items)[int(r.resolve(index))]


def _fn_split(r: Resolver, arg: list[Any]) -> list[str]:
    sep, text = arg
    return str(r.resolve(text)).split(sep)


_INTRINSICS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, a: r.ref(r.resolve(a)),
    "Fn::GetAtt": lambda r, a: r.get_att(a),
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::Join": _fn_join,
    "Fn::If": _fn_if,
    "Fn::Select": _fn_select,
    "Fn::Split": _fn_split,
    "Fn::FindInMap": lambda r, a: r.find_in_map(a),
    "Fn::Base64": lambda r, a: base64.b64encode(str(r.resolve(a)).encode()).decode(),
    "Fn::GetAZs": lambda r, a: [f"{r.t.region}{z}" for z in "abc"],
    "Fn::ToJsonString": lambda r, a: json.dumps(r.resolve(a), separators=(",", ":")),
    "Fn::Length": lambda r, a: len(r.resolve(a)),
    "Fn::Equals": lambda r, a: r.evaluate({"Fn::Equals": a}),
    "Fn::Not": lambda r, a: r.evaluate({"Fn::Not": a}),
    "Fn::And": lambda r, a: r.evaluate({"Fn::And": a}),
    "Fn::Or": lambda r, a: r.evaluate({"Fn::Or": a}),
    "Condition": lambda r, a: r.condition(a),
}


def references(value: Any) -> set[str]:
    """Logical ids (or parameter names) a property value refers to."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= references(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            found |= _references_of(k, v)
    return found


def _references_of(key: str, value: Any) -> set[str]:
    if key == "Ref" and isinstance(value, str):
        return {value}
    if key == "Fn::GetAtt":
        return {value.split(".", 1)[0] if isinstance(value, str) else value[0]}
    if key != "Fn::Sub":
        return references(value)
    text = value[0] if isinstance(value, list) else value
    variables = value[1] if isinstance(value, list) and len(value) > 1 else {}
    found = {
        name.split(".", 1)[0]
        for name in re.findall(r"\$\{([^!}][^}]*)\}", text)
        if name.split(".", 1)[0] not in (variables or {})
    }
    return found | references(variables)
