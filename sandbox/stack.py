"""Deploy a SAM template into moto: the template is the one list of resources.

`translate()` turns the SAM template into CloudFormation with aws-sam-translator, offline. Local paths
(`CodeUri`, `ContentUri`, `DefinitionUri`) become placeholder S3 locations that map back to the files
here, so the translator emits exactly what `sam deploy` would, minus the upload.

`deploy()` then creates every resource through the service APIs, in dependency order, resolving
intrinsics (Ref, GetAtt, Sub, Join, If, ...) itself. We do not use moto's CloudFormation: in moto 5.2.5
it drops table TTL, point-in-time recovery and SSE, function layers, tracing and architectures, managed
policy attachments, and it creates state machines in the non-executing Step Functions backend without
their DefinitionSubstitutions. Resource types we have no creator for are skipped by type, with a note;
references to them resolve to placeholders so the rest of the stack still deploys.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import logging
import random
import re
import string
import types
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "123456789012"  # moto's default account: the stack's account
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "drs-fleet-sync"
ARTIFACT_BUCKET = "sandbox-local-artifacts"  # never created: only a marker for local paths

ClientFactory = Callable[[str], Any]


class DeployError(RuntimeError):
    """The template cannot be translated or deployed into the sandbox."""


# ------------------------------------------------------------------ template loading


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: str | Path) -> dict[str, Any]:
    """A CloudFormation/SAM template (YAML or JSON) as plain data, short-form tags expanded."""
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


# ------------------------------------------------------------------ translation (SAM -> CloudFormation)


@dataclass
class Translated:
    """A SAM template translated to CloudFormation, with its local artifacts."""

    path: Path
    sam: dict[str, Any]  # the SAM template as written (tags expanded)
    cfn: dict[str, Any]  # CloudFormation after the SAM transform
    parameters: dict[str, Any]  # resolved parameter values: defaults + overrides
    stack_name: str
    account: str
    region: str
    artifacts: dict[str, Path] = field(default_factory=dict)  # placeholder S3 key -> local path

    @property
    def root(self) -> Path:
        return self.path.parent

    def local_artifact(self, bucket: Any, key: Any) -> Path | None:
        if bucket == ARTIFACT_BUCKET and isinstance(key, str):
            return self.artifacts.get(key)
        return None


@cache
def _aws_managed_policies_text() -> str:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return aws_managed_policies_data


@cache
def aws_managed_policy_arns() -> dict[str, str]:
    """name -> ARN of every AWS managed policy moto knows (without parsing the 4 MB document).
    The translator asks for this map (it would call iam:ListPolicies) when Policies name one."""
    text = _aws_managed_policies_text()
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'^ "([^"]+)":\{$', text, re.MULTILINE)]
    out: dict[str, str] = {}
    for (start, name), (end, _) in zip(starts, [*starts[1:], (len(text), "")], strict=True):
        path = re.search(r'^  "Path":"([^"]*)"', text[start:end], re.MULTILINE)
        out[name] = f"arn:aws:iam::aws:policy{path.group(1) if path else '/'}{name}"
    return out


def aws_managed_policy_document(name: str) -> dict[str, Any] | None:
    """The data moto holds for one AWS managed policy, parsed on its own."""
    text = _aws_managed_policies_text()
    start = text.find(f'\n "{name}":{{')
    if start < 0:
        return None
    brace = text.index("{", start + len(name) + 4)
    data, _ = json.JSONDecoder().raw_decode(text, brace)
    return data


def _resolve_parameters(sam: dict[str, Any], overrides: dict[str, Any] | None, path: Path) -> dict[str, Any]:
    declared = sam.get("Parameters") or {}
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
        ptype = spec.get("Type", "String")
        if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
            value: Any = raw if isinstance(raw, list) else [s.strip() for s in str(raw).split(",") if s.strip()]
            values[name] = [str(v) for v in value]
            continue
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
        values[name] = text
    return values


def translate(
    template: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
) -> Translated:
    """SAM template -> CloudFormation, offline. Local paths become placeholder S3 locations."""
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

    path = Path(template).resolve()
    sam = load_template(path)
    values = _resolve_parameters(sam, parameters, path)
    work = copy.deepcopy(sam)
    artifacts: dict[str, Path] = {}

    def localize(lid: str, kind: str, uri: Any, *, directory: bool) -> dict[str, str] | None:
        if not isinstance(uri, str) or uri.startswith("s3://"):
            return None
        local = (path.parent / uri).resolve()
        if directory and not local.is_dir():
            raise DeployError(f"{lid}: {kind} {uri!r} is not a directory next to {path.name}")
        if not directory and not local.is_file():
            raise DeployError(f"{lid}: {kind} {uri!r} does not exist next to {path.name}")
        key = f"{kind}/{lid}"
        artifacts[key] = local
        return {"Bucket": ARTIFACT_BUCKET, "Key": key}

    globals_fn = (work.get("Globals") or {}).get("Function") or {}
    for lid, res in work["Resources"].items():
        props = res.get("Properties") or {}
        rtype = res.get("Type")
        if rtype == "AWS::Serverless::Function":
            code_uri = props.get("CodeUri", globals_fn.get("CodeUri"))
            if "InlineCode" not in props and "ImageUri" not in props:
                loc = localize(lid, "CodeUri", code_uri, directory=True)
                if loc:
                    props["CodeUri"] = loc
        elif rtype == "AWS::Serverless::LayerVersion":
            loc = localize(lid, "ContentUri", props.get("ContentUri"), directory=True)
            if loc:
                props["ContentUri"] = loc
        elif rtype == "AWS::Serverless::StateMachine":
            loc = localize(lid, "DefinitionUri", props.get("DefinitionUri"), directory=False)
            if loc:
                props["DefinitionUri"] = loc

    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": _stack_id(stack_name, account, region),
        "AWS::URLSuffix": "amazonaws.com",
    }
    # samtranslator.transform() minus its boto3 session from the environment: the region is ours.
    parameter_values = {**values, **pseudo}
    to_py27_compatible_template(work, parameter_values)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    # The translator only reads region_name from its session; a real boto3 Session would read profiles.
    session: Any = types.SimpleNamespace(region_name=region)
    translator = Translator(None, Parser(), boto_session=session, metrics=metrics)
    try:
        cfn = undo_mark_unicode_str_in_template(
            translator.translate(
                work, parameter_values=parameter_values, get_managed_policy_map=aws_managed_policy_arns
            )
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(c) for c in exc.causes)
        raise DeployError(f"SAM cannot translate {path.name}: {causes}") from exc
    finally:
        metrics.publish()  # to nowhere; unpublished metrics make the translator log a warning
    return Translated(
        path=path,
        sam=sam,
        cfn=cfn,
        parameters=values,
        stack_name=stack_name,
        account=account,
        region=region,
        artifacts=artifacts,
    )


def _stack_id(stack_name: str, account: str, region: str) -> str:
    digest = hashlib.sha1(f"{account}/{region}/{stack_name}".encode(), usedforsecurity=False).hexdigest()  # an id
    uid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/{uid}"


# ------------------------------------------------------------------ intrinsic functions


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


@dataclass
class Resource:
    """One deployed (or skipped) resource."""

    logical_id: str
    type: str
    physical_id: str  # what Ref returns
    attributes: dict[str, Any] = field(default_factory=dict)  # GetAtt names -> values
    skipped: bool = False
    local_path: Path | None = None  # code dir (functions, layers) or ASL file (state machines)

    @property
    def arn(self) -> str | None:
        value = self.attributes.get("Arn")
        if value is None and str(self.physical_id).startswith("arn:"):
            return self.physical_id
        return value


class Resolver:
    """Resolves CloudFormation intrinsic functions against parameters and deployed resources."""

    def __init__(self, translated: Translated, resources: dict[str, Resource]) -> None:
        self.t = translated
        self.resources = resources
        self.conditions_decl = translated.cfn.get("Conditions") or {}
        self.mappings = translated.cfn.get("Mappings") or {}
        self._conditions: dict[str, bool] = {}
        self.pseudo = {
            "AWS::Region": translated.region,
            "AWS::AccountId": translated.account,
            "AWS::Partition": "aws",
            "AWS::StackName": translated.stack_name,
            "AWS::StackId": _stack_id(translated.stack_name, translated.account, translated.region),
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }

    # -- conditions
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.conditions_decl:
                raise DeployError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self._eval_condition(self.conditions_decl[name]))
        return self._conditions[name]

    def _eval_condition(self, expr: Any) -> Any:
        if isinstance(expr, dict) and len(expr) == 1:
            ((fn, arg),) = expr.items()
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self._eval_condition(arg[0])
            if fn == "Fn::And":
                return all(self._eval_condition(x) for x in arg)
            if fn == "Fn::Or":
                return any(self._eval_condition(x) for x in arg)
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
        m, k1, k2 = (self.resolve(a) for a in arg)
        try:
            return self.mappings[m][k1][k2]
        except KeyError:
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
    "Ref": lambda r, a: r.ref(a),
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
    "Fn::Equals": lambda r, a: r._eval_condition({"Fn::Equals": a}),
    "Fn::Not": lambda r, a: r._eval_condition({"Fn::Not": a}),
    "Fn::And": lambda r, a: r._eval_condition({"Fn::And": a}),
    "Fn::Or": lambda r, a: r._eval_condition({"Fn::Or": a}),
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
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                target = v.split(".", 1)[0] if isinstance(v, str) else v[0]
                found.add(target)
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                local = set((v[1] or {}).keys()) if isinstance(v, list) and len(v) > 1 else set()
                for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    base = name.split(".", 1)[0]
                    if base not in local:
                        found.add(base)
                if isinstance(v, list) and len(v) > 1:
                    found |= references(v[1])
            else:
                found |= references(v)
    return found


# ------------------------------------------------------------------ deployment


@dataclass
class Deployment:
    """What `deploy()` created: logical id -> resource, plus the functions' shared environment."""

    translated: Translated
    resources: dict[str, Resource]
    environment: dict[str, str]  # union of every function's environment variables
    outputs: dict[str, Any]
    notes: list[str]

    @property
    def stack_name(self) -> str:
        return self.translated.stack_name

    def of_type(self, rtype: str) -> dict[str, Resource]:
        return {lid: r for lid, r in self.resources.items() if r.type == rtype and not r.skipped}

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id].physical_id
        except KeyError:
            raise KeyError(f"the stack has no resource {logical_id!r}") from None


def _random_suffix(n: int = 12) -> str:
    return "".join(random.choices(string.ascii_uppercase + string.digits, k=n))


def generated_name(stack: str, logical_id: str, max_len: int, *, lower: bool = False, prefix: bool = True) -> str:
    """A CloudFormation-style physical name: `{stack}-{logicalId}-{SUFFIX}`, truncated to the limit."""
    suffix = _random_suffix()
    base = f"{stack}-{logical_id}" if prefix else logical_id
    base = base[: max_len - len(suffix) - 1].rstrip("-")
    name = f"{base}-{suffix}"
    return name.lower() if lower else name


@cache
def _placeholder_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("README.txt", "The sandbox runs this code in-process from the repository (sandbox.local_lambda).\n")
    return buf.getvalue()


def _tags_dict(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t["Value"]) for t in tags or []}


def _tags_list(tags: Any) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in _tags_dict(tags).items()]


def _json_text(doc: Any) -> str:
    return doc if isinstance(doc, str) else json.dumps(doc)


def _policy_text(doc: Any) -> str:
    """IAM accepts a policy without Version (SAM's policy templates emit those); moto insists on one."""
    if isinstance(doc, dict) and "Version" not in doc:
        doc = {"Version": "2012-10-17", **doc}
    return _json_text(doc)


class _Deployer:
    def __init__(self, translated: Translated, clients: ClientFactory) -> None:
        self.t = translated
        self._client_factory = clients
        self._clients: dict[str, Any] = {}
        self.resources: dict[str, Resource] = {}
        self.resolver = Resolver(translated, self.resources)
        self.notes: list[str] = []

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._client_factory(service)
        return self._clients[service]

    def note(self, text: str) -> None:
        self.notes.append(text)
        log.info("sandbox deploy: %s", text)

    @property
    def region(self) -> str:
        return self.t.region

    @property
    def account(self) -> str:
        return self.t.account

    def name_for(self, props: dict[str, Any], key: str, lid: str, max_len: int, **kw: Any) -> str:
        name = props.get(key)
        return str(name) if name else generated_name(self.t.stack_name, lid, max_len, **kw)

    # -- orchestration
    def run(self) -> Deployment:
        declared = self.t.cfn["Resources"]
        for lid in self._order(declared):
            res = declared[lid]
            rtype = res["Type"]
            if res.get("Condition") and not self.resolver.condition(res["Condition"]):
                continue
            creator = _CREATORS.get(rtype)
            if creator is None:
                self.note(f"skipped {lid} ({rtype}): the sandbox has no emulation for this resource type")
                self.resources[lid] = Resource(lid, rtype, f"{self.t.stack_name}-{lid}-sandbox-skipped", skipped=True)
                continue
            props = self.resolver.resolve(res.get("Properties") or {})
            try:
                self.resources[lid] = creator(self, lid, props)
            except DeployError:
                raise
            except Exception as exc:
                raise DeployError(f"creating {lid} ({rtype}) failed: {type(exc).__name__}: {exc}") from exc
        outputs = {}
        for name, out in (self.t.cfn.get("Outputs") or {}).items():
            if out.get("Condition") and not self.resolver.condition(out["Condition"]):
                continue
            outputs[name] = self.resolver.resolve(out.get("Value"))
        return Deployment(self.t, self.resources, self._environment(), outputs, self.notes)

    def _order(self, declared: dict[str, Any]) -> list[str]:
        deps: dict[str, set[str]] = {}
        for lid, res in declared.items():
            depends_on = res.get("DependsOn") or []
            if isinstance(depends_on, str):
                depends_on = [depends_on]
            refs = references(res.get("Properties") or {}) | set(depends_on)
            deps[lid] = {r for r in refs if r in declared and r != lid}
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(lid: str, chain: tuple[str, ...]) -> None:
            if state.get(lid) == 2:
                return
            if state.get(lid) == 1:
                raise DeployError(f"circular dependency: {' -> '.join((*chain, lid))}")
            state[lid] = 1
            for d in sorted(deps[lid]):
                visit(d, (*chain, lid))
            state[lid] = 2
            order.append(lid)

        for lid in declared:
            visit(lid, ())
        return order

    def _environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        owner: dict[str, str] = {}
        for lid, res in self.of_type("AWS::Lambda::Function").items():
            for key, value in res.attributes.get("Environment", {}).items():
                if key in env and env[key] != value:
                    raise DeployError(
                        f"environment variable {key} is {env[key]!r} in {owner[key]} but {value!r} in {lid}: "
                        "the sandbox runs every handler in one process, so set it once in Globals"
                    )
                env[key], owner[key] = value, lid
        return env

    def of_type(self, rtype: str) -> dict[str, Resource]:
        return {lid: r for lid, r in self.resources.items() if r.type == rtype and not r.skipped}


# ------------------------------------------------------------------ creators, one per resource type


def _create_table(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    ddb = d.client("dynamodb")
    name = d.name_for(p, "TableName", lid, 255)
    kw: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
    }
    if kw["BillingMode"] == "PROVISIONED":
        kw["ProvisionedThroughput"] = p.get("ProvisionedThroughput") or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    index_keys = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")
    if p.get("GlobalSecondaryIndexes"):
        kw["GlobalSecondaryIndexes"] = [{k: g[k] for k in index_keys if k in g} for g in p["GlobalSecondaryIndexes"]]
    if p.get("LocalSecondaryIndexes"):
        kw["LocalSecondaryIndexes"] = [{k: g[k] for k in index_keys[:3] if k in g} for g in p["LocalSecondaryIndexes"]]
    sse = p.get("SSESpecification")
    if sse:
        kw["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))}
        if sse.get("SSEType"):
            kw["SSESpecification"]["SSEType"] = sse["SSEType"]
        if sse.get("KMSMasterKeyId"):
            kw["SSESpecification"]["KMSMasterKeyId"] = sse["KMSMasterKeyId"]
    if p.get("StreamSpecification"):
        kw["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
    for key in ("TableClass", "DeletionProtectionEnabled"):
        if key in p:
            kw[key] = p[key]
    if p.get("Tags"):
        kw["Tags"] = _tags_list(p["Tags"])
    for key in ("ContributorInsightsSpecification", "KinesisStreamSpecification", "ResourcePolicy"):
        if key in p:
            d.note(f"{lid}: {key} is not applied in the sandbox")
    desc = ddb.create_table(**kw)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    _verify_table(d, lid, name, p)
    attrs = {"Arn": desc["TableArn"]}
    if desc.get("LatestStreamArn"):
        attrs["StreamArn"] = desc["LatestStreamArn"]
    return Resource(lid, "AWS::DynamoDB::Table", name, attrs)


def _verify_table(d: _Deployer, lid: str, name: str, p: dict[str, Any]) -> None:
    """Read the table back: what the product relies on must really be there."""
    ddb = d.client("dynamodb")
    table = ddb.describe_table(TableName=name)["Table"]
    problems = []

    def keys(schema: Iterable[dict[str, str]]) -> list[tuple[str, str]]:
        return [(k["AttributeName"], k["KeyType"]) for k in schema]

    if keys(table["KeySchema"]) != keys(p["KeySchema"]):
        problems.append(f"key schema {table['KeySchema']}")
    want_attrs = {(a["AttributeName"], a["AttributeType"]) for a in p["AttributeDefinitions"]}
    got_attrs = {(a["AttributeName"], a["AttributeType"]) for a in table.get("AttributeDefinitions", [])}
    if want_attrs != got_attrs:
        problems.append(f"attributes {sorted(got_attrs)}")
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        want = {g["IndexName"]: (keys(g["KeySchema"]), g["Projection"]["ProjectionType"]) for g in p.get(kind) or []}
        got = {g["IndexName"]: (keys(g["KeySchema"]), g["Projection"]["ProjectionType"]) for g in table.get(kind) or []}
        if want != got:
            problems.append(f"{kind} {got}")
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        got_ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if got_ttl.get("TimeToLiveStatus") != "ENABLED" or got_ttl.get("AttributeName") != ttl["AttributeName"]:
            problems.append(f"TTL {got_ttl}")
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        if backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] != "ENABLED":
            problems.append("point-in-time recovery disabled")
    sse = p.get("SSESpecification")
    if sse and sse.get("SSEEnabled") and (table.get("SSEDescription") or {}).get("Status") != "ENABLED":
        problems.append(f"SSE {table.get('SSEDescription')}")
    if problems:
        raise DeployError(f"table {lid} was not created as declared: {'; '.join(problems)}")


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    prefix = rule.get("Prefix", "")
    out["Filter"] = {"Prefix": prefix}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "ExpirationDate" in rule:
        out["Expiration"] = {"Date": rule["ExpirationDate"]}
    if "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return out


def _create_bucket(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    s3 = d.client("s3")
    name = d.name_for(p, "BucketName", lid, 63, lower=True)
    kw: dict[str, Any] = {"Bucket": name}
    if d.region != "us-east-1":
        kw["CreateBucketConfiguration"] = {"LocationConstraint": d.region}
    s3.create_bucket(**kw)
    enc = p.get("BucketEncryption")
    if enc:
        rules = []
        for rule in enc["ServerSideEncryptionConfiguration"]:
            api_rule = {k: v for k, v in rule.items() if k != "ServerSideEncryptionByDefault"}
            if "ServerSideEncryptionByDefault" in rule:
                api_rule["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
            rules.append(api_rule)
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if p.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
    if p.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=p["VersioningConfiguration"])
    if p.get("LifecycleConfiguration"):
        rules = [_lifecycle_rule(r) for r in p["LifecycleConfiguration"].get("Rules", [])]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    if p.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags_list(p["Tags"])})
    for key in ("NotificationConfiguration", "ReplicationConfiguration", "WebsiteConfiguration", "CorsConfiguration"):
        if key in p:
            d.note(f"{lid}: {key} is not applied in the sandbox")
    attrs = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{d.region}.amazonaws.com",
    }
    return Resource(lid, "AWS::S3::Bucket", name, attrs)


def _ensure_managed_policy(d: _Deployer, arn: str) -> None:
    """moto loads no AWS managed policies by default; load the ones the template attaches."""
    if not arn.startswith("arn:aws:iam::aws:policy/"):
        return
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[d.account]["aws"]
    if arn in backend.managed_policies:
        return
    name = arn.rsplit("/", 1)[-1]
    data = aws_managed_policy_document(name)
    if data is None:
        raise DeployError(f"unknown AWS managed policy {arn}")
    backend.managed_policies[arn] = AWSManagedPolicy.from_data(name, d.account, d.region, data)


def _create_role(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    iam = d.client("iam")
    name = d.name_for(p, "RoleName", lid, 64)
    kw: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": _json_text(p["AssumeRolePolicyDocument"]),
        "Path": p.get("Path", "/"),
    }
    for key in ("Description", "MaxSessionDuration", "PermissionsBoundary"):
        if key in p:
            kw[key] = int(p[key]) if key == "MaxSessionDuration" else p[key]
    if p.get("Tags"):
        kw["Tags"] = _tags_list(p["Tags"])
    role = iam.create_role(**kw)["Role"]
    for policy in p.get("Policies") or []:
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=_policy_text(policy["PolicyDocument"])
        )
    for arn in p.get("ManagedPolicyArns") or []:
        _ensure_managed_policy(d, arn)
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    return Resource(lid, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def _create_policy(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    iam = d.client("iam")
    document = _policy_text(p["PolicyDocument"])
    for role in p.get("Roles") or []:
        iam.put_role_policy(RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=document)
    for user in p.get("Users") or []:
        iam.put_user_policy(UserName=user, PolicyName=p["PolicyName"], PolicyDocument=document)
    for group in p.get("Groups") or []:
        iam.put_group_policy(GroupName=group, PolicyName=p["PolicyName"], PolicyDocument=document)
    return Resource(lid, "AWS::IAM::Policy", generated_name(d.t.stack_name[:5], lid[:4], 128))


def _create_managed_policy(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    iam = d.client("iam")
    name = d.name_for(p, "ManagedPolicyName", lid, 128)
    kw: dict[str, Any] = {
        "PolicyName": name,
        "PolicyDocument": _policy_text(p["PolicyDocument"]),
        "Path": p.get("Path", "/"),
    }
    if "Description" in p:
        kw["Description"] = p["Description"]
    arn = iam.create_policy(**kw)["Policy"]["Arn"]
    for role in p.get("Roles") or []:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return Resource(lid, "AWS::IAM::ManagedPolicy", arn, {"PolicyArn": arn})


def _create_layer(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    content = p.get("Content") or {}
    local = d.t.local_artifact(content.get("S3Bucket"), content.get("S3Key"))
    name = str(p.get("LayerName") or lid)
    kw: dict[str, Any] = {"LayerName": name, "Content": {"ZipFile": _placeholder_zip()}}
    for key in ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
        if key in p:
            kw[key] = p[key]
    arn = d.client("lambda").publish_layer_version(**kw)["LayerVersionArn"]
    if local is None:
        d.note(f"{lid}: layer content is not a local directory, so nothing of it is importable in the sandbox")
    return Resource(lid, "AWS::Lambda::LayerVersion", arn, {"LayerVersionArn": arn}, local_path=local)


def _create_function(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    lam = d.client("lambda")
    name = d.name_for(p, "FunctionName", lid, 64)
    code = p.get("Code") or {}
    local = d.t.local_artifact(code.get("S3Bucket"), code.get("S3Key"))
    inline = code.get("ZipFile")
    if local is None and inline is None:
        raise DeployError(f"{lid}: the sandbox runs functions from a local CodeUri or InlineCode, got {code}")
    env = {k: _env_text(v) for k, v in ((p.get("Environment") or {}).get("Variables") or {}).items()}
    kw: dict[str, Any] = {
        "FunctionName": name,
        "Role": p["Role"],
        "Code": {"ZipFile": _placeholder_zip()},
        "PackageType": "Zip",
    }
    for key in (
        "Runtime",
        "Handler",
        "Description",
        "Timeout",
        "MemorySize",
        "TracingConfig",
        "Architectures",
        "Layers",
        "EphemeralStorage",
        "LoggingConfig",
        "DeadLetterConfig",
        "KmsKeyArn",
    ):
        if key in p:
            kw[key] = p[key]
    for key in ("Timeout", "MemorySize"):
        if key in kw:
            kw[key] = int(kw[key])
    if env:
        kw["Environment"] = {"Variables": env}
    if p.get("Tags"):
        kw["Tags"] = _tags_dict(p["Tags"])
    conf = lam.create_function(**kw)
    if "ReservedConcurrentExecutions" in p:
        lam.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=int(p["ReservedConcurrentExecutions"])
        )
    attrs = {
        "Arn": conf["FunctionArn"],
        "Environment": env,
        "Handler": p.get("Handler", ""),
        "Runtime": p.get("Runtime", ""),
        "Timeout": int(p.get("Timeout", 3)),
        "MemorySize": int(p.get("MemorySize", 128)),
        "Layers": list(p.get("Layers") or []),
    }
    if inline is not None and local is None:
        attrs["InlineCode"] = inline
    return Resource(lid, "AWS::Lambda::Function", name, attrs, local_path=local)


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _create_permission(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    kw: dict[str, Any] = {
        "FunctionName": p["FunctionName"],
        "StatementId": lid,
        "Action": p["Action"],
        "Principal": p["Principal"],
    }
    for key in ("SourceArn", "SourceAccount", "EventSourceToken", "PrincipalOrgID", "FunctionUrlAuthType"):
        if key in p:
            kw[key] = p[key]
    d.client("lambda").add_permission(**kw)
    return Resource(lid, "AWS::Lambda::Permission", lid)


def _create_log_group(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    logs = d.client("logs")
    name = d.name_for(p, "LogGroupName", lid, 512)
    kw: dict[str, Any] = {"logGroupName": name}
    if p.get("KmsKeyId"):
        kw["kmsKeyId"] = p["KmsKeyId"]
    if p.get("Tags"):
        kw["tags"] = _tags_dict(p["Tags"])
    logs.create_log_group(**kw)
    if "RetentionInDays" in p:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    arn = f"arn:aws:logs:{d.region}:{d.account}:log-group:{name}:*"
    return Resource(lid, "AWS::Logs::LogGroup", name, {"Arn": arn})


def _definition_text(d: _Deployer, lid: str, p: dict[str, Any]) -> tuple[str, Path | None]:
    location = p.get("DefinitionS3Location")
    if location:
        local = d.t.local_artifact(location.get("Bucket"), location.get("Key"))
        if local is None:
            raise DeployError(f"{lid}: the sandbox reads definitions from a local DefinitionUri, got {location}")
        return local.read_text(), local
    if "DefinitionString" in p:
        return str(p["DefinitionString"]), None
    if "Definition" in p:
        return json.dumps(p["Definition"]), None
    raise DeployError(f"{lid}: state machine without a definition")


def substitute(definition: str, substitutions: dict[str, Any]) -> str:
    """Step Functions' DefinitionSubstitutions: replace `${key}` in the definition text."""
    for key, value in substitutions.items():
        text = json.dumps(value) if isinstance(value, (dict, list)) else _env_text(value)
        definition = definition.replace("${" + key + "}", text)
    return definition


def _create_state_machine(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    sfn = d.client("stepfunctions")
    name = d.name_for(p, "StateMachineName", lid, 80, prefix=False)
    raw, local = _definition_text(d, lid, p)
    substitutions = p.get("DefinitionSubstitutions") or {}
    definition = substitute(raw, substitutions)
    kw: dict[str, Any] = {"name": name, "definition": definition, "roleArn": p["RoleArn"]}
    if p.get("StateMachineType"):
        kw["type"] = p["StateMachineType"]
    logging_conf = p.get("LoggingConfiguration")
    if logging_conf:
        kw["loggingConfiguration"] = {
            "level": logging_conf.get("Level", "OFF"),
            "includeExecutionData": bool(logging_conf.get("IncludeExecutionData", False)),
            "destinations": [
                {"cloudWatchLogsLogGroup": {"logGroupArn": dest["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
                for dest in logging_conf.get("Destinations") or []
            ],
        }
    if p.get("TracingConfiguration"):
        kw["tracingConfiguration"] = {"enabled": bool(p["TracingConfiguration"].get("Enabled"))}
    if p.get("Tags"):
        kw["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in _tags_list(p["Tags"])]
    try:
        arn = sfn.create_state_machine(**kw)["stateMachineArn"]
    except Exception as exc:
        where = f" ({local})" if local else ""
        raise DeployError(f"state machine {lid}{where} rejected by the Step Functions parser: {exc}") from exc
    attrs = {"Arn": arn, "Name": name, "Definition": definition, "DefinitionSubstitutions": substitutions}
    return Resource(lid, "AWS::StepFunctions::StateMachine", arn, attrs, local_path=local)


def _create_schedule(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name_for(p, "Name", lid, 64)
    kw: dict[str, Any] = {
        "Name": name,
        "ScheduleExpression": p["ScheduleExpression"],
        "FlexibleTimeWindow": p.get("FlexibleTimeWindow") or {"Mode": "OFF"},
        "Target": p["Target"],
    }
    for key in ("GroupName", "Description", "State", "ScheduleExpressionTimezone", "StartDate", "EndDate"):
        if key in p:
            kw[key] = p[key]
    arn = d.client("scheduler").create_schedule(**kw)["ScheduleArn"]
    d.note(f"{lid}: schedule created but never fires in the sandbox; start executions yourself")
    return Resource(lid, "AWS::Scheduler::Schedule", name, {"Arn": arn})


def _create_alarm(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name_for(p, "AlarmName", lid, 255)
    keys = (
        "AlarmDescription",
        "ActionsEnabled",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
        "Metrics",
        "ThresholdMetricId",
    )
    kw = {k: p[k] for k in keys if k in p}
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in kw:
            kw[key] = int(kw[key])
    if "Threshold" in kw:
        kw["Threshold"] = float(kw["Threshold"])
    d.client("cloudwatch").put_metric_alarm(AlarmName=name, **kw)
    arn = f"arn:aws:cloudwatch:{d.region}:{d.account}:alarm:{name}"
    return Resource(lid, "AWS::CloudWatch::Alarm", name, {"Arn": arn})


def _create_dashboard(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name_for(p, "DashboardName", lid, 255)
    d.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=_json_text(p["DashboardBody"]))
    return Resource(lid, "AWS::CloudWatch::Dashboard", name)


def _create_topic(d: _Deployer, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name_for(p, "TopicName", lid, 256)
    kw: dict[str, Any] = {"Name": name}
    if p.get("Tags"):
        kw["Tags"] = _tags_list(p["Tags"])
    arn = d.client("sns").create_topic(**kw)["TopicArn"]
    for sub in p.get("Subscription") or []:
        d.client("sns").subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
    return Resource(lid, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})


_CREATORS: dict[str, Callable[[_Deployer, str, dict[str, Any]], Resource]] = {
    "AWS::DynamoDB::Table": _create_table,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::IAM::Role": _create_role,
    "AWS::IAM::Policy": _create_policy,
    "AWS::IAM::ManagedPolicy": _create_managed_policy,
    "AWS::Lambda::LayerVersion": _create_layer,
    "AWS::Lambda::Function": _create_function,
    "AWS::Lambda::Permission": _create_permission,
    "AWS::Logs::LogGroup": _create_log_group,
    "AWS::StepFunctions::StateMachine": _create_state_machine,
    "AWS::Scheduler::Schedule": _create_schedule,
    "AWS::CloudWatch::Alarm": _create_alarm,
    "AWS::CloudWatch::Dashboard": _create_dashboard,
    "AWS::SNS::Topic": _create_topic,
}

SUPPORTED_TYPES = frozenset(_CREATORS)


def deploy(translated: Translated, clients: ClientFactory) -> Deployment:
    """Create every resource of a translated template. `clients(service)` returns a boto3 client
    for the stack's account and region (moto must be active)."""
    return _Deployer(translated, clients).run()
