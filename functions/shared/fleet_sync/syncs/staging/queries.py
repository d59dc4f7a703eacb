"""What the API shows of the staging sync: remembered extension failures with their backoff, and the audit
trail of extensions (read-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...core.clock import utc_now
from ...core.tables import STAGING_EXTENSIONS
from .store import QUOTA_SK, ExtensionStore, is_deferred


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in (*STAGING_EXTENSIONS.key_names, "expiresAt")}


def get_extension_failures(
    table: Any, *, target_account_id: str | None = None, regions: list[str] | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Remembered extension failures for the API: one target's (in the given regions), or every target's.

    Each record says whether it is still deferred (`deferred`) and when the next attempt is due.
    """
    now = now or utc_now()
    store = ExtensionStore(table)
    if target_account_id is not None and regions is not None:
        records = [r for region in regions for r in store.failures(target_account_id, region).values()]
    else:
        records = store.all_failures()
        if target_account_id is not None:
            records = [r for r in records if r.get("targetAccountId") == target_account_id]
    out = []
    for r in sorted(
        records,
        key=lambda r: (r.get("targetAccountId", ""), r.get("region", ""), r.get(STAGING_EXTENSIONS.sort_key, "")),
    ):
        item = _public(r)
        if r.get(STAGING_EXTENSIONS.sort_key) == QUOTA_SK:
            item["scope"] = "quota"
        item["deferred"] = is_deferred(r, now)
        out.append(item)
    return out


def get_extension_audit(
    table: Any, target_account_id: str, regions: list[str], *, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest extensions of one target in the given regions (the API's audit view)."""
    store = ExtensionStore(table)
    rows = [r for region in regions for r in store.extensions(target_account_id, region, limit=limit)]
    rows.sort(key=lambda r: r.get("extendedAt", ""), reverse=True)
    return [_public(r) for r in rows[:limit]]
