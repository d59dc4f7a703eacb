"""What the deployer's parts share: the stack's defaults, its error, a deployed resource, small helpers."""

from __future__ import annotations

import hashlib
import io
import json
import random
import string
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .translate import Translated

DEFAULT_ACCOUNT = "123456789012"  # moto's default account: the stack's account
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "drs-fleet-sync"
ARTIFACT_BUCKET = "sandbox-local-artifacts"  # never created: only a marker for local paths

ClientFactory = Callable[[str], Any]


class DeployError(RuntimeError):
    """The template cannot be translated or deployed into the sandbox."""


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


class DeployContext(Protocol):
    """What a resource creator may use: the translated template, clients, names, notes."""

    t: Translated

    @property
    def region(self) -> str: ...

    @property
    def account(self) -> str: ...

    def client(self, service: str) -> Any: ...

    def note(self, text: str) -> None: ...

    def name_for(self, props: dict[str, Any], key: str, lid: str, max_len: int, **kw: Any) -> str: ...


Creator = Callable[[DeployContext, str, dict[str, Any]], Resource]


def stack_id(stack_name: str, account: str, region: str) -> str:
    """A stable AWS::StackId for a stack name in an account and region."""
    digest = hashlib.sha1(f"{account}/{region}/{stack_name}".encode(), usedforsecurity=False).hexdigest()  # an id
    uid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/{uid}"


def pseudo_parameters(stack_name: str, account: str, region: str) -> dict[str, Any]:
    return {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id(stack_name, account, region),
        "AWS::URLSuffix": "amazonaws.com",
    }


def generated_name(stack: str, logical_id: str, max_len: int, *, lower: bool = False, prefix: bool = True) -> str:
    """A CloudFormation-style physical name: `{stack}-{logicalId}-{SUFFIX}`, truncated to the limit."""
    suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))
    base = f"{stack}-{logical_id}" if prefix else logical_id
    base = base[: max_len - len(suffix) - 1].rstrip("-")
    name = f"{base}-{suffix}"
    return name.lower() if lower else name


@cache
def placeholder_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("README.txt", "The sandbox runs this code in-process from the repository (sandbox.local_lambda).\n")
    return buf.getvalue()


def tags_dict(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t["Value"]) for t in tags or []}


def tags_list(tags: Any) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags_dict(tags).items()]


def json_text(doc: Any) -> str:
    return doc if isinstance(doc, str) else json.dumps(doc)


def policy_text(doc: Any) -> str:
    """IAM accepts a policy without Version (SAM's policy templates emit those); moto insists on one."""
    if isinstance(doc, dict) and "Version" not in doc:
        doc = {"Version": "2012-10-17", **doc}
    return json_text(doc)


def env_text(value: Any) -> str:
    """A value as CloudFormation writes it into a string property (environment, substitutions)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
