"""Every product table: its environment variable, template resource, key names and indexes, declared once.

Code builds keys and names indexes through these declarations only; a test checks them against template.yaml,
so the layer can never address a table by keys or indexes the deployed table does not have.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key


@dataclass(frozen=True)
class Index:
    """A global secondary index (projection ALL): its name and its key names."""

    name: str
    key_names: tuple[str, ...]

    @property
    def partition_key(self) -> str:
        return self.key_names[0]


@dataclass(frozen=True)
class Table:
    env_var: str  # the environment variable holding its name; the settings field is its lower-case form
    logical_id: str  # its resource in template.yaml
    key_names: tuple[str, ...]  # partition key, then the sort key if any
    indexes: tuple[Index, ...] = ()

    @property
    def partition_key(self) -> str:
        return self.key_names[0]

    def key(self, *values: str) -> dict[str, str]:
        """The primary key of one item, e.g. REGION_STATUS.key(account, region)."""
        if len(values) != len(self.key_names):
            raise ValueError(f"{self.logical_id} is keyed by {self.key_names}, got {len(values)} values")
        return dict(zip(self.key_names, values, strict=True))

    @property
    def sort_key(self) -> str:
        return self.key_names[1]

    def partition(self, value: str) -> Any:
        """The key condition of one partition of the table."""
        return Key(self.partition_key).eq(value)


def account_region(account_id: str, region: str) -> str:
    """The `accountRegion` key value of a (account, region) pair."""
    return f"{account_id}#{region}"


INVENTORY_BY_SOURCE_SERVER = Index("BySourceServerId", ("sourceServerID",))
INVENTORY_BY_REGION = Index("ByRegion", ("replicationRegion", "sourceServerID"))
INVENTORY_BY_SOURCE_ACCOUNT = Index("BySourceAccount", ("sourceAccountId", "replicationRegion"))
INVENTORY_BY_STAGING_ACCOUNT = Index("ByStagingAccount", ("stagingAccountId", "replicationRegion"))
INVENTORY_BY_REPLICATION_STATE = Index("ByReplicationState", ("replicationState", "replicationRegion"))
RECOVERY_BY_SOURCE_EXECUTION = Index("BySourceExecutionId", ("sourceExecutionId",))
RECOVERY_BY_ACCOUNT_REGION = Index("ByAccountRegion", ("accountRegion",))

ACCOUNTS = Table("ACCOUNTS_TABLE", "AccountsTable", ("accountId",))
REGION_STATUS = Table("REGION_STATUS_TABLE", "RegionStatusTable", ("accountId", "region"))
INVENTORY = Table(
    "INVENTORY_TABLE",
    "InventoryTable",
    ("accountRegion", "sourceServerID"),
    (
        INVENTORY_BY_SOURCE_SERVER,
        INVENTORY_BY_REGION,
        INVENTORY_BY_SOURCE_ACCOUNT,
        INVENTORY_BY_STAGING_ACCOUNT,
        INVENTORY_BY_REPLICATION_STATE,
    ),
)
SYNC_STATE = Table("SYNC_STATE_TABLE", "SyncStateTable", ("pk", "sk"))
RECOVERY_INSTANCES = Table(
    "RECOVERY_INSTANCES_TABLE",
    "RecoveryInstancesCacheTable",
    ("sourceServerID",),
    (RECOVERY_BY_SOURCE_EXECUTION, RECOVERY_BY_ACCOUNT_REGION),
)
STAGING_EXTENSIONS = Table("STAGING_EXTENSIONS_TABLE", "StagingExtensionsTable", ("pk", "sk"))

TABLES = (ACCOUNTS, REGION_STATUS, INVENTORY, SYNC_STATE, RECOVERY_INSTANCES, STAGING_EXTENSIONS)


# ------------------------------------------------------------------ DynamoDB helpers every store uses


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


def _all_pages(call: Callable[..., Any], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = call(**kwargs)
        items.extend(to_plain(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}
