"""The fleet file's schema: strict pydantic models, camelCase in the file (docs/fleet.md)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from sandbox.drs import shapes
from sandbox.drs.faults import Fault

from .regions import OPT_IN_REGIONS

__all__ = ["DEFAULT_STATES", "AccountSpec", "Fleet", "FleetError", "Quotas", "RegionSpec", "account_id"]

DEFAULT_STATES = {"CONTINUOUS": 0.9, "INITIAL_SYNC": 0.04, "BACKLOG": 0.03, "STALLED": 0.03}
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


class FleetError(ValueError):
    """A fleet is invalid or cannot be applied; the message starts with the field path."""


class _Strict(BaseModel):
    # strict: YAML's own types are the fleet's (`sourceServers: true` is not 1, `"5"` is not 5); an int is a float.
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, validate_default=True, strict=True)


def account_id(v: Any) -> str:
    """``v`` if it is a 12-digit account id (a string: YAML reads unquoted digits as a number)."""
    if isinstance(v, int) and not isinstance(v, bool):
        raise ValueError(f"account ids must be quoted strings in YAML ({v} is a number)")
    if not isinstance(v, str) or not _ACCOUNT_RE.match(v):
        raise ValueError(f"must be a 12-digit account id, not {v!r}")
    return v


class RegionSpec(_Strict):
    """Servers of one account in one region (see docs/fleet.md)."""

    source_servers: int = Field(default=0, ge=0, le=100_000)
    recovery_instances: int = Field(default=0, ge=0)
    ec2_backed: float = Field(default=0.0, ge=0.0, le=1.0)
    disconnected: int = Field(default=0, ge=0)
    replication_states: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_STATES))
    extended_from: dict[str, int] = Field(default_factory=dict)
    origin_account_id: str | None = None
    origin_region: str | None = None
    copy_tags: float = Field(default=0.0, ge=0.0, le=1.0)
    tagged: float = Field(default=0.0, ge=0.0, le=1.0)
    reverse_replicated: int = Field(default=0, ge=0)

    @field_validator("replication_states")
    @classmethod
    def _states(cls, v: dict[str, float]) -> dict[str, float]:
        allowed = set(shapes.service_model().shape_for("DataReplicationState").enum) - {"DISCONNECTED"}
        bad = sorted(set(v) - allowed)
        if bad:
            raise ValueError(f"unknown states {bad} (allowed: {', '.join(sorted(allowed))}; use disconnected: N)")
        if any(w < 0 for w in v.values()) or not sum(v.values()) > 0:
            raise ValueError("weights must be >= 0 and add up to more than 0")
        return v

    @field_validator("extended_from", mode="before")
    @classmethod
    def _extended_keys(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for k in v:
                account_id(k)
        return v

    @field_validator("origin_account_id", mode="before")
    @classmethod
    def _origin_account(cls, v: Any) -> Any:
        return None if v is None else account_id(v)

    @field_validator("origin_region")
    @classmethod
    def _origin_region(cls, v: str | None) -> str | None:
        if v is not None and v not in shapes.regions():
            raise ValueError(f"{v!r} is not a DRS region")
        return v


class AccountSpec(_Strict):
    """One AWS account of the estate."""

    account_id: str
    name: str | None = Field(default=None, min_length=1, max_length=128)
    kind: Literal["target", "staging"] = "target"
    external_id: str | None = None
    staging_accounts: list[str] = Field(default_factory=list)
    # DRS accounts whose servers may name this account as their EC2 origin (the accounts row's allowedDrsAccounts)
    allowed_drs_accounts: list[str] = Field(default_factory=list)
    regions: dict[str, RegionSpec] = Field(default_factory=dict)
    uninitialized_regions: list[str] = Field(default_factory=list)
    disabled_regions: list[str] = Field(default_factory=list)
    # As in AWS: DRS was never initialized in a region nothing lists, and an opt-in region answers only
    # once the account has enabled it (docs/fleet.md, "Regions").
    other_regions: Literal["initialized", "uninitialized"] = "uninitialized"
    enabled_regions: list[str] = Field(default_factory=list)
    enabled: bool = True
    registered: bool = True
    create_role: bool = True
    role_policy: dict[str, Any] | None = None  # replaces the shipped role's permissions (to test denials)

    @field_validator("account_id", mode="before")
    @classmethod
    def _account(cls, v: Any) -> Any:
        return account_id(v)

    @field_validator("regions", mode="before")
    @classmethod
    def _empty_regions(cls, v: Any) -> Any:
        if isinstance(v, dict):  # "eu-west-1:" with nothing after it: a region with no servers
            return {k: ({} if spec is None else spec) for k, spec in v.items()}
        return v

    @field_validator("staging_accounts", mode="before")
    @classmethod
    def _staging_ids(cls, v: Any) -> Any:
        if isinstance(v, list):
            for item in v:
                account_id(item)
        return v

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, v: str | None) -> str | None:
        if v is not None and not _EXTERNAL_ID_RE.match(v):
            raise ValueError("must be 2-1224 characters of [A-Za-z0-9+=,.@:/-_] (the sts:ExternalId rules)")
        return v

    def is_enabled(self, region: str) -> bool:
        """Whether DRS answers in ``region`` at all (an opt-in region must be enabled)."""
        if region in self.disabled_regions:
            return False
        return region not in OPT_IN_REGIONS or region in self.enabled_regions

    def is_initialized(self, region: str) -> bool:
        """Whether DRS starts initialized in ``region`` (seeded servers initialize it)."""
        if region in self.regions:
            return True
        return region not in self.uninitialized_regions and self.other_regions == "initialized"

    @field_validator("role_policy")
    @classmethod
    def _role_policy(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and not isinstance(v.get("Statement"), list):
            raise ValueError("must be an IAM policy document with a Statement list")
        return v

    @property
    def display_name(self) -> str:
        return self.name or f"{self.kind}-{self.account_id}"


class Quotas(_Strict):
    max_replicating_servers: int = Field(default=300, ge=1)


class Fleet(_Strict):
    """A validated fleet. Build it with :func:`sandbox.fleet.load_fleet`."""

    seed: int = 0
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    quotas: Quotas = Field(default_factory=Quotas)
    accounts: list[AccountSpec] = Field(min_length=1)
    faults: list[Fault] = Field(default_factory=list)

    def account(self, account_id: str) -> AccountSpec:
        for a in self.accounts:
            if a.account_id == account_id:
                return a
        raise KeyError(account_id)

    @property
    def targets(self) -> list[AccountSpec]:
        return [a for a in self.accounts if a.kind == "target"]

    @property
    def staging(self) -> list[AccountSpec]:
        return [a for a in self.accounts if a.kind == "staging"]

    @property
    def server_count(self) -> int:
        """Native source servers (extended and reversed servers not included)."""
        return sum(r.source_servers for a in self.accounts for r in a.regions.values())
