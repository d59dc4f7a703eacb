"""Test support shared by the test folders (imported as ``tests.sandbox_support``): set-ups on a running
sandbox that more than one folder needs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fleet_sync.core.clock import iso
from fleet_sync.run import region_status


def age_pair(sb: Any, account: str, region: str, hours: float = 2) -> str:
    """Make a pair's last successful scan `hours` old, as if no sync had reached it since; returns that time.
    This process's copy of the layer forgets its region-status cache (its TTL has passed too); the stack's
    functions keep theirs until the cache generation is bumped (`bump_region_cache`)."""
    old = iso(datetime.now(UTC) - timedelta(hours=hours))
    sb.client("dynamodb").update_item(
        TableName=sb.table_name("region-status"),
        Key={"accountId": {"S": account}, "region": {"S": region}},
        UpdateExpression="SET lastSuccess = :t",
        ExpressionAttributeValues={":t": {"S": old}},
    )
    region_status.invalidate_region_cache()
    return old


def bump_region_cache(sb: Any) -> None:
    """What InvalidateRegionCache does: every function's container re-reads region status on its next call."""
    sb.client("dynamodb").put_item(
        TableName=sb.table_name("sync-state"),
        Item={"pk": {"S": "cache#regions"}, "sk": {"S": "generation"}, "generation": {"S": uuid.uuid4().hex}},
    )
