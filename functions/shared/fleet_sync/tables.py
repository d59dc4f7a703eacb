"""Key names of every product table, and the few DynamoDB helpers every table class uses.

Code builds keys from KEY_SCHEMAS; a template test checks them against template.yaml, so the layer can never
address a table by keys the deployed table does not have.
"""

import json
from decimal import Decimal
from typing import Any

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


def to_plain(value: Any) -> Any:
    """DynamoDB's Decimals and sets as plain JSON types."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_plain(v) for v in value)
    return value


def to_dynamo(value: Any) -> Any:
    """Plain JSON into what the DynamoDB resource accepts (floats become Decimals)."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def query_all(table: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item a Query matches, all pages, as plain JSON types."""
    return _all_pages(table.query, kwargs)


def scan_all(table: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a Scan, all pages (only for small tables: accounts, region status)."""
    return _all_pages(table.scan, kwargs)


def _all_pages(call: Any, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = call(**kwargs)
        items.extend(to_plain(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}
