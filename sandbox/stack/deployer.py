"""Create every resource of a translated template through the service APIs, in dependency order.

We do not use moto's CloudFormation: in moto 5.2.5 it drops table TTL, point-in-time recovery and SSE,
function layers, tracing and architectures, managed policy attachments, and it creates state machines in
the non-executing Step Functions backend without their DefinitionSubstitutions. Resource types we have no
creator for are skipped by type, with a note; references to them resolve to placeholders so the rest of
the stack still deploys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .intrinsics import Resolver, references
from .model import ClientFactory, DeployError, Resource, generated_name
from .resources import CREATORS
from .translate import Translated

log = logging.getLogger(__name__)


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
        return of_type(self.resources, rtype)

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id].physical_id
        except KeyError:
            raise KeyError(f"the stack has no resource {logical_id!r}") from None


def of_type(resources: dict[str, Resource], rtype: str) -> dict[str, Resource]:
    return {lid: r for lid, r in resources.items() if r.type == rtype and not r.skipped}


def deploy(translated: Translated, clients: ClientFactory) -> Deployment:
    """Create every resource of a translated template. `clients(service)` returns a boto3 client
    for the stack's account and region (moto must be active)."""
    return _Deployer(translated, clients).run()


class _Deployer:
    """The DeployContext resource creators get: the template, clients, names and notes."""

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

    def run(self) -> Deployment:
        declared = self.t.cfn["Resources"]
        for lid in dependency_order(declared):
            self._create(lid, declared[lid])
        outputs = {}
        for name, out in (self.t.cfn.get("Outputs") or {}).items():
            if out.get("Condition") and not self.resolver.condition(out["Condition"]):
                continue
            outputs[name] = self.resolver.resolve(out.get("Value"))
        return Deployment(self.t, self.resources, self._environment(), outputs, self.notes)

    def _create(self, lid: str, res: dict[str, Any]) -> None:
        rtype = res["Type"]
        if res.get("Condition") and not self.resolver.condition(res["Condition"]):
            return
        creator = CREATORS.get(rtype)
        if creator is None:
            self.note(f"skipped {lid} ({rtype}): the sandbox has no emulation for this resource type")
            self.resources[lid] = Resource(lid, rtype, f"{self.t.stack_name}-{lid}-sandbox-skipped", skipped=True)
            return
        props = self.resolver.resolve(res.get("Properties") or {})
        try:
            self.resources[lid] = creator(self, lid, props)
        except DeployError:
            raise
        except Exception as exc:
            raise DeployError(f"creating {lid} ({rtype}) failed: {type(exc).__name__}: {exc}") from exc

    def _environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        owner: dict[str, str] = {}
        for lid, res in of_type(self.resources, "AWS::Lambda::Function").items():
            for key, value in res.attributes.get("Environment", {}).items():
                if key in env and env[key] != value:
                    raise DeployError(
                        f"environment variable {key} is {env[key]!r} in {owner[key]} but {value!r} in {lid}: "
                        "the sandbox runs every handler in one process, so set it once in Globals"
                    )
                env[key], owner[key] = value, lid
        return env


def dependency_order(declared: dict[str, Any]) -> list[str]:
    """Logical ids, each after everything it refers to or DependsOn; a cycle is a DeployError."""
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
