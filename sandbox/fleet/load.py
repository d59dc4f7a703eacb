"""Loading a fleet: YAML or JSON in, a validated :class:`Fleet` out, every error naming its file and field."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sandbox.drs import shapes

from .regions import OPT_IN_REGIONS
from .schema import AccountSpec, Fleet, FleetError, RegionSpec

__all__ = ["load_fleet"]


def load_fleet(src: str | Path | dict[str, Any] | Fleet) -> Fleet:
    """Load and validate a fleet from a YAML/JSON file path or a dict; raises :class:`FleetError`."""
    if isinstance(src, Fleet):
        return src
    if isinstance(src, dict):
        return _validate(src)
    if not isinstance(src, str | Path):
        raise FleetError(f"fleet: must be a mapping or a file path, not {type(src).__name__}")
    path = Path(src)
    data = _read(path)
    try:
        return _validate(data)
    except FleetError as e:  # the file first, then the field path
        raise FleetError(f"{path}: {e}") from None


def _validate(data: Any) -> Fleet:
    if not isinstance(data, dict):
        raise FleetError(f"fleet: must be a mapping, not {type(data).__name__}")
    try:
        fleet = Fleet.model_validate(data)
    except ValidationError as e:
        raise FleetError(_describe(e)) from None
    _check(fleet)
    return fleet


MAX_ERRORS_SHOWN = 5


def _describe(e: ValidationError) -> str:
    """Every error (the first few), each as ``field.path: message``; an unknown key next to a missing field
    it resembles is named as the likely typo."""
    # The unknown keys first: a typo is the cause of the "Field required" it leaves behind.
    errors = sorted(e.errors(), key=lambda err: err["type"] != "extra_forbidden")
    missing = {tuple(err["loc"]) for err in errors if err["type"] == "missing"}
    lines = []
    for err in errors[:MAX_ERRORS_SHOWN]:
        loc = tuple(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
            near = [str(m[-1]) for m in missing if m[:-1] == loc[:-1]]
            guess = difflib.get_close_matches(str(loc[-1]), near, n=1)
            if guess:
                msg += f" (did you mean {guess[0]}?)"
        lines.append(f"{_path(loc)}: {msg}")
    if len(errors) > MAX_ERRORS_SHOWN:
        lines.append(f"and {len(errors) - MAX_ERRORS_SHOWN} more")
    return "; ".join(lines)


def _path(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "fleet"


def _read(path: Path) -> Any:
    if path.is_dir():
        raise FleetError(f"{path}: is a directory, not a fleet file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise FleetError(f"{path}: cannot read the fleet file ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise FleetError(f"{path}: line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x})") from None
    try:
        return _parse_json(text) if path.suffix == ".json" else _parse_yaml(text)
    except (ValueError, yaml.YAMLError) as e:
        raise FleetError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {e}") from None


def _parse_json(text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ValueError(f"key {key!r} given twice in one object")
            out[key] = value
        return out

    return json.loads(text, object_pairs_hook=pairs)


def _parse_yaml(text: str) -> Any:
    """``yaml.safe_load``, except that a key given twice in one mapping is an error (YAML 1.2 says keys are
    unique; PyYAML keeps the last value)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _unique_keys(node, "")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _unique_keys(node: yaml.Node, path: str) -> None:
    if isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _unique_keys(child, f"{path}[{i}]")
    elif isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            here = f"{path}.{key.value}".lstrip(".") if isinstance(key, yaml.ScalarNode) else path
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                line = key.start_mark.line + 1
                if (key.tag, key.value) in seen:
                    raise yaml.YAMLError(f"{here}: key given twice (lines {seen[key.tag, key.value]} and {line})")
                seen[key.tag, key.value] = line
            _unique_keys(value, here)


def _check(fleet: Fleet) -> None:
    """Cross-field rules pydantic cannot express per field; messages name the field.

    Each account's own rules first, then the rules between accounts (which need every account's id).
    """
    regions = set(shapes.regions())
    by_id: dict[str, AccountSpec] = {}
    for i, a in enumerate(fleet.accounts):
        p = f"accounts[{i}]"
        if a.account_id in by_id:
            raise FleetError(f"{p}.accountId: {a.account_id} appears twice")
        by_id[a.account_id] = a
        _check_region_lists(p, a, regions)
        for r, spec in a.regions.items():
            _check_region(f"{p}.regions.{r}", a, r, spec, regions)
    for i, a in enumerate(fleet.accounts):
        _check_staging(f"accounts[{i}]", a, by_id)


def _check_region_lists(p: str, a: AccountSpec, regions: set[str]) -> None:
    for field_name, listed in (
        ("uninitializedRegions", a.uninitialized_regions),
        ("disabledRegions", a.disabled_regions),
        ("enabledRegions", a.enabled_regions),
    ):
        for j, r in enumerate(listed):
            if r not in regions:
                raise FleetError(f"{p}.{field_name}[{j}]: {r!r} is not a DRS region ({len(regions)} known)")
            if r in a.regions and field_name != "enabledRegions":
                raise FleetError(f"{p}.{field_name}[{j}]: {r} also has servers under regions")
    both = set(a.uninitialized_regions) & set(a.disabled_regions)
    if both:
        raise FleetError(f"{p}.disabledRegions: {sorted(both)[0]} is also in uninitializedRegions")
    _check_opt_in(p, a)


def _check_opt_in(p: str, a: AccountSpec) -> None:
    """enabledRegions names opt-in regions only; a region with DRS state must be enabled first, as in AWS."""
    for j, r in enumerate(a.enabled_regions):
        if r not in OPT_IN_REGIONS:
            raise FleetError(f"{p}.enabledRegions[{j}]: {r} is not an opt-in region (it is always enabled)")
        if r in a.disabled_regions:
            raise FleetError(f"{p}.enabledRegions[{j}]: {r} is also in disabledRegions")
    for field_name, listed in (("regions", list(a.regions)), ("uninitializedRegions", a.uninitialized_regions)):
        for r in listed:
            if r in OPT_IN_REGIONS and r not in a.enabled_regions:
                raise FleetError(
                    f"{p}.{field_name}.{r}: an opt-in region; list it in enabledRegions too (until the account "
                    "enables it, AWS answers every call there with UnrecognizedClientException)"
                )


def _check_region(rp: str, a: AccountSpec, r: str, spec: RegionSpec, regions: set[str]) -> None:
    if r not in regions:
        raise FleetError(f"{rp}: not a DRS region (botocore lists {len(regions)})")
    if spec.disconnected > spec.source_servers:
        raise FleetError(f"{rp}.disconnected: {spec.disconnected} > sourceServers ({spec.source_servers})")
    live = spec.source_servers - spec.disconnected
    if spec.recovery_instances > live:
        raise FleetError(
            f"{rp}.recoveryInstances: {spec.recovery_instances} > connected servers ({live} = sourceServers - "
            "disconnected)"
        )
    if spec.reverse_replicated:
        _check_reverse(rp, a, r, spec)
    if a.kind == "staging" and spec.extended_from:
        raise FleetError(f"{rp}.extendedFrom: only target accounts extend staging servers")


def _check_reverse(rp: str, a: AccountSpec, r: str, spec: RegionSpec) -> None:
    """Reverse replication goes back to another, usable region, from EC2-backed recovery instances."""
    if spec.reverse_replicated > spec.recovery_instances:
        raise FleetError(f"{rp}.reverseReplicated: more than recoveryInstances ({spec.recovery_instances})")
    if not spec.ec2_backed:
        raise FleetError(f"{rp}.reverseReplicated: needs ec2Backed servers (reverse replication is in-AWS)")
    origin = spec.origin_region
    if origin is None or origin == r:
        raise FleetError(f"{rp}.reverseReplicated: needs originRegion different from {r}")
    if not (a.is_enabled(origin) and a.is_initialized(origin)):
        raise FleetError(f"{rp}.reverseReplicated: originRegion {origin} is not enabled and initialized")


def _check_staging(p: str, a: AccountSpec, by_id: dict[str, AccountSpec]) -> None:
    """A target's staging accounts are staging accounts of the fleet, with enough servers to extend."""
    if a.kind == "staging" and a.staging_accounts:
        raise FleetError(f"{p}.stagingAccounts: only target accounts trust staging accounts")
    for j, s in enumerate(a.staging_accounts):
        other = by_id.get(s)
        if other is None:
            raise FleetError(f"{p}.stagingAccounts[{j}]: {s} is not an account of this fleet")
        if other.kind != "staging":
            raise FleetError(f"{p}.stagingAccounts[{j}]: {s} is kind {other.kind}, not staging")
    for r, spec in a.regions.items():
        for s, n in spec.extended_from.items():
            fp = f"{p}.regions.{r}.extendedFrom.{s}"
            if s not in a.staging_accounts:
                raise FleetError(f"{fp}: {s} is not in this account's stagingAccounts")
            if n < 0:
                raise FleetError(f"{fp}: must be >= 0")
            staging_region = by_id[s].regions.get(r)
            available = 0 if staging_region is None else staging_region.source_servers - staging_region.disconnected
            if n > available:
                raise FleetError(f"{fp}: {n} > the {available} connected servers {s} has in {r}")
