"""The staging-extensions table: failures with their backoff, and the audit trail of extensions.

Keys are built here and nowhere else (pk / sk):
- `failure#{targetAccountId}#{region}` / `{stagingServerArn}`: the last failed extension of one staging
  server into one target: error, attempts, nextAttemptAt (TTL 7 days after the last attempt);
- `failure#{targetAccountId}#{region}` / `#quota`: the target's replicating-server quota was hit in this
  region: no extension is tried there before nextAttemptAt;
- `audit#{targetAccountId}#{region}` / `{extendedAt}#{stagingServerArn}`: one extension: staging server,
  staging account, target, region, extended server, time, execution (kept, no TTL).

Reads here are what the API shows; writes happen only in the staging sync's worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from .regions import iso, parse_iso, utc_now
from .tables import query_all, scan_all, to_dynamo, to_plain

QUOTA_SK = "#quota"
BACKOFF_BASE = timedelta(minutes=15)  # longer than the 5-minute schedule: a failure skips at least two runs
BACKOFF_MAX = timedelta(hours=24)
FAILURE_TTL = timedelta(days=7)  # longer than BACKOFF_MAX, so a deferred failure is never forgotten early


def failure_pk(target_account_id: str, region: str) -> str:
    return f"failure#{target_account_id}#{region}"


def audit_pk(target_account_id: str, region: str) -> str:
    return f"audit#{target_account_id}#{region}"


def backoff(attempts: int) -> timedelta:
    """Delay after the `attempts`-th failure in a row: 15 min, 30 min, 1 h, ... capped at 24 h."""
    return min(BACKOFF_BASE * (2 ** max(0, min(attempts, 20) - 1)), BACKOFF_MAX)


def is_deferred(record: dict[str, Any] | None, now: datetime) -> bool:
    if not record:
        return False
    due = parse_iso(record.get("nextAttemptAt"))
    return due is not None and due > now


@dataclass
class ExtensionStore:
    table: Any

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        return query_all(self.table, **kwargs)

    # ---- failures
    def failures(self, target_account_id: str, region: str) -> dict[str, dict[str, Any]]:
        """Every failure record of one (target, region), by staging server ARN (QUOTA_SK for the quota)."""
        rows = self._query(KeyConditionExpression=Key("pk").eq(failure_pk(target_account_id, region)))
        return {r["sk"]: r for r in rows}

    def record_failure(
        self,
        *,
        target_account_id: str,
        region: str,
        staging_server_arn: str,
        staging_account_id: str | None,
        code: str,
        message: str,
        previous: dict[str, Any] | None,
        execution_arn: str,
        hostname: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        now = now or utc_now()
        attempts = int((previous or {}).get("attempts", 0)) + 1
        record = {
            "pk": failure_pk(target_account_id, region),
            "sk": staging_server_arn,
            "targetAccountId": target_account_id,
            "region": region,
            "stagingServerArn": staging_server_arn,
            "stagingAccountId": staging_account_id,
            "hostname": hostname,
            "errorCode": code,
            "errorMessage": message[:1000],
            "attempts": attempts,
            "firstFailedAt": (previous or {}).get("firstFailedAt") or iso(now),
            "lastAttemptAt": iso(now),
            "nextAttemptAt": iso(now + backoff(attempts)),
            "lastExecutionArn": execution_arn,
            "expiresAt": int((now + FAILURE_TTL).timestamp()),
        }
        record = {k: v for k, v in record.items() if v is not None}
        self.table.put_item(Item=to_dynamo(record))
        return record

    def record_quota(
        self,
        *,
        target_account_id: str,
        region: str,
        message: str,
        previous: dict[str, Any] | None,
        execution_arn: str,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        return self.record_failure(
            target_account_id=target_account_id,
            region=region,
            staging_server_arn=QUOTA_SK,
            staging_account_id=None,
            code="ServiceQuotaExceededException",
            message=message,
            previous=previous,
            execution_arn=execution_arn,
            now=now,
        )

    def clear_failures(self, target_account_id: str, region: str, keys: list[str]) -> None:
        if not keys:
            return
        with self.table.batch_writer() as batch:
            for sk in keys:
                batch.delete_item(Key={"pk": failure_pk(target_account_id, region), "sk": sk})

    # ---- audit
    def record_extension(
        self,
        *,
        target_account_id: str,
        region: str,
        staging_server_arn: str,
        staging_account_id: str,
        extended_server_arn: str | None,
        execution_arn: str,
        run_id: str,
        hostname: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        at = iso(now or utc_now())
        record = {
            "pk": audit_pk(target_account_id, region),
            "sk": f"{at}#{staging_server_arn}",
            "event": "EXTENDED",
            "targetAccountId": target_account_id,
            "region": region,
            "stagingServerArn": staging_server_arn,
            "stagingAccountId": staging_account_id,
            "hostname": hostname,
            "extendedServerArn": extended_server_arn,
            "extendedAt": at,
            "executionArn": execution_arn,
            "runId": run_id,
        }
        record = {k: v for k, v in record.items() if v is not None}
        self.table.put_item(Item=to_dynamo(record))
        return record

    def extensions(self, target_account_id: str, region: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The audit trail of one (target, region), newest first."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(audit_pk(target_account_id, region)),
            "ScanIndexForward": False,
        }
        if limit is None:
            return self._query(**kwargs)
        rows = self.table.query(**kwargs, Limit=limit).get("Items", [])
        return [to_plain(r) for r in rows]


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("pk", "sk", "expiresAt")}


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
        records = [r for r in scan_all(table) if str(r.get("pk", "")).startswith("failure#")]
        if target_account_id is not None:
            records = [r for r in records if r.get("targetAccountId") == target_account_id]
    out = []
    for r in sorted(records, key=lambda r: (r.get("targetAccountId", ""), r.get("region", ""), r.get("sk", ""))):
        item = _public(r)
        if r.get("sk") == QUOTA_SK:
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
