"""SAM template -> CloudFormation, offline, the way `sam deploy` has CloudFormation do it.

The template's parameters are resolved and validated, AWS::LanguageExtensions is expanded
(`language_extensions`), then aws-sam-translator runs. Local paths (`CodeUri`, `ContentUri`,
`DefinitionUri`) become placeholder S3 locations that map back to the files here, so the translator emits
exactly what `sam deploy` would, minus the upload.
"""

from __future__ import annotations

import copy
import json
import threading
import types
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import language_extensions
from .managed_policies import aws_managed_policy_arns
from .model import (
    ARTIFACT_BUCKET,
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    DeployError,
    pseudo_parameters,
)
from .template import read_template, resolve_parameters

# resource type -> (property holding a local path, whether it names a directory)
_LOCAL_PATHS = {
    "AWS::Serverless::Function": ("CodeUri", True),
    "AWS::Serverless::LayerVersion": ("ContentUri", True),
    "AWS::Serverless::StateMachine": ("DefinitionUri", False),
}


@dataclass
class Translated:
    """A SAM template translated to CloudFormation, with its local artifacts."""

    path: Path
    source: dict[str, Any]  # the template as written (short-form tags expanded)
    sam: dict[str, Any]  # what the SAM transform reads: AWS::LanguageExtensions expanded
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


_translations: OrderedDict[tuple[Any, ...], Translated] = OrderedDict()
_translations_lock = threading.Lock()
_KEPT_TRANSLATIONS = 16


def translate(
    template: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
) -> Translated:
    """SAM template -> CloudFormation, offline. Local paths become placeholder S3 locations.

    The translation of an unchanged template file with the same inputs is the same, so a process (a test
    run opens hundreds of sandboxes) translates it once and hands each caller a copy of its own."""
    path = Path(template).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, json.dumps(parameters, sort_keys=True, default=str),
           stack_name, account, region)  # fmt: skip
    with _translations_lock:
        done = _translations.get(key)
    if done is None:
        done = _translate(path, parameters, stack_name=stack_name, account=account, region=region)
        with _translations_lock:
            _translations[key] = done
            while len(_translations) > _KEPT_TRANSLATIONS:
                _translations.popitem(last=False)
    return copy.deepcopy(done)


def _translate(
    path: Path, parameters: dict[str, Any] | None, *, stack_name: str, account: str, region: str
) -> Translated:
    source = read_template(path)
    values = resolve_parameters(source, parameters, path)
    sam = language_extensions.expand(source, values)
    work = copy.deepcopy(sam)
    artifacts = _localize(work, path)
    cfn = _sam_transform(work, {**values, **pseudo_parameters(stack_name, account, region)}, region, path)
    return Translated(
        path=path,
        source=source,
        sam=sam,
        cfn=cfn,
        parameters=values,
        stack_name=stack_name,
        account=account,
        region=region,
        artifacts=artifacts,
    )


def _localize(work: dict[str, Any], path: Path) -> dict[str, Path]:
    """Replace each local path of `work` by a placeholder S3 location; placeholder key -> the local path."""
    artifacts: dict[str, Path] = {}
    globals_fn = (work.get("Globals") or {}).get("Function") or {}
    for lid, res in work["Resources"].items():
        rtype = res.get("Type")
        if rtype not in _LOCAL_PATHS:
            continue
        kind, directory = _LOCAL_PATHS[rtype]
        props = res.setdefault("Properties", {})
        if rtype == "AWS::Serverless::Function" and ("InlineCode" in props or "ImageUri" in props):
            continue
        uri = props.get(kind, globals_fn.get(kind) if rtype == "AWS::Serverless::Function" else None)
        if not isinstance(uri, str) or uri.startswith("s3://"):
            continue
        local = (path.parent / uri).resolve()
        if directory and not local.is_dir():
            raise DeployError(f"{lid}: {kind} {uri!r} is not a directory next to {path.name}")
        if not directory and not local.is_file():
            raise DeployError(f"{lid}: {kind} {uri!r} does not exist next to {path.name}")
        key = f"{kind}/{lid}"
        artifacts[key] = local
        props[kind] = {"Bucket": ARTIFACT_BUCKET, "Key": key}
    return artifacts


def _sam_transform(work: dict[str, Any], parameter_values: dict[str, Any], region: str, path: Path) -> dict[str, Any]:
    """samtranslator.transform() minus its boto3 session from the environment: the region is ours."""
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

    to_py27_compatible_template(work, parameter_values)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    # The translator only reads region_name from its session; a real boto3 Session would read profiles.
    session: Any = types.SimpleNamespace(region_name=region)
    translator = Translator(None, Parser(), boto_session=session, metrics=metrics)
    try:
        return undo_mark_unicode_str_in_template(
            translator.translate(
                work, parameter_values=parameter_values, get_managed_policy_map=aws_managed_policy_arns
            )
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(c) for c in exc.causes)
        raise DeployError(f"SAM cannot translate {path.name}: {causes}") from exc
    finally:
        metrics.publish()  # to nowhere; unpublished metrics make the translator log a warning
