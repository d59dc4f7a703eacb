"""Table key schemas: template.yaml against docs/design.md and the layer's table classes."""

import re

from template_helpers import ROOT, TEMPLATES, resources_of

from sandbox.stack import load_template

TABLE_ROW = re.compile(r"^\| `(\w+Table)` \| `([\w-]+)` \| (.+?) \|", re.MULTILINE)
KEY = re.compile(r"`(\w+)` \((S|N|B)\b")


def product_tables() -> dict[str, dict]:
    return resources_of(load_template(TEMPLATES["product"]), "AWS::DynamoDB::Table")


def key_schema(props: dict) -> list[tuple[str, str]]:
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    return [(k["AttributeName"], types[k["AttributeName"]]) for k in props["KeySchema"]]


def test_design_tables_exist_with_the_documented_keys():
    documented = {lid: KEY.findall(keys) for lid, _, keys in TABLE_ROW.findall((ROOT / "docs/design.md").read_text())}
    assert documented, "docs/design.md lists no tables"
    tables = product_tables()
    mismatched = {lid: (keys, key_schema(tables[lid]) if lid in tables else None) for lid, keys in documented.items()}
    assert {lid: v for lid, v in mismatched.items() if v[0] != v[1]} == {}


def _declared_keys(module) -> dict[str, tuple[str, ...]]:
    """Key names the layer's tables module declares, by table env var or logical id.

    Recognized: a mapping KEY_SCHEMAS = {"INVENTORY_TABLE": ("accountRegion", "sourceServerID")}, or
    objects with an env var (ENV / env_var / TABLE_ENV) and key names (KEYS / key_names, or
    HASH_KEY/PARTITION_KEY plus RANGE_KEY/SORT_KEY)."""
    declared: dict[str, tuple[str, ...]] = {}
    for name, keys in (getattr(module, "KEY_SCHEMAS", None) or {}).items():
        declared[name] = tuple(keys)
    for obj in vars(module).values():
        env = next(
            (getattr(obj, a) for a in ("ENV", "env_var", "TABLE_ENV") if isinstance(getattr(obj, a, None), str)), None
        )
        if env is None:
            continue
        keys = next((getattr(obj, a) for a in ("KEYS", "key_names") if isinstance(getattr(obj, a, None), tuple)), None)
        if keys is None:
            hash_key = next((getattr(obj, a) for a in ("HASH_KEY", "PARTITION_KEY") if hasattr(obj, a)), None)
            range_key = next((getattr(obj, a) for a in ("RANGE_KEY", "SORT_KEY") if hasattr(obj, a)), None)
            keys = tuple(k for k in (hash_key, range_key) if isinstance(k, str))
        if keys:
            declared[env] = keys
    return declared


def test_the_layer_addresses_tables_by_their_template_keys():
    from fleet_sync.core import tables as module

    declared = _declared_keys(module)
    assert set(declared) == {
        "ACCOUNTS_TABLE",
        "REGION_STATUS_TABLE",
        "INVENTORY_TABLE",
        "SYNC_STATE_TABLE",
        "RECOVERY_INSTANCES_TABLE",
        "STAGING_EXTENSIONS_TABLE",
    }
    template = load_template(TEMPLATES["product"])
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    by_env = {var: ref["Ref"] for var, ref in env.items() if isinstance(ref, dict) and "Ref" in ref}
    tables = product_tables()
    problems = {}
    for name, keys in declared.items():
        lid = by_env.get(name, name)
        if lid not in tables:
            problems[name] = "no such table in template.yaml"
        elif tuple(k for k, _ in key_schema(tables[lid])) != keys:
            problems[name] = f"template keys {key_schema(tables[lid])}, layer keys {keys}"
    assert problems == {}
