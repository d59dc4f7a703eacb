"""Key names of every product table, by the environment variable that names the table.

Code builds keys from these; a template test checks them against template.yaml, so the layer can never
address a table by keys the deployed table does not have.
"""

KEY_SCHEMAS: dict[str, tuple[str, ...]] = {
    "ACCOUNTS_TABLE": ("accountId",),
    "REGION_STATUS_TABLE": ("accountId", "region"),
    "INVENTORY_TABLE": ("accountRegion", "sourceServerID"),
    "SYNC_STATE_TABLE": ("pk", "sk"),
    "RECOVERY_INSTANCES_TABLE": ("sourceServerId",),
    "STAGING_EXTENSIONS_TABLE": ("pk", "sk"),
}


def key(env_var: str, *values: str) -> dict[str, str]:
    """The primary key of one item, e.g. key("REGION_STATUS_TABLE", account, region)."""
    names = KEY_SCHEMAS[env_var]
    if len(values) != len(names):
        raise ValueError(f"{env_var} is keyed by {names}, got {len(values)} values")
    return dict(zip(names, values, strict=True))
