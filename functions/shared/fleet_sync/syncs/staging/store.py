"""The staging-extensions table: failures with their backoff, and the audit trail of extensions.

Keys are built here and nowhere else (pk / sk):
- `failure#{targetAccountId}#{region}` / `{stagingServerArn}`: the last failed extension of one staging
  server into one target: error, attempts, nextAttemptAt (TTL 7 days after the last attempt);
- `failure#{targetAccountId}#{region}` / `#quota`: the target's replicating-server quota was hit in this
  region: no extension is tried there before nextAttemptAt;
- `audit#{targetAccountId}#{region}` / `{extendedAt}#{stagingServerArn}`: one extension: staging server,
  staging account, target, region, extended server, time, execution (kept, no TTL).

Writes happen only in the staging sync's worker; `queries.py` holds what the API shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ...core.clock import iso, parse_iso, utc_now
from ...core.tables import STAGING_EXTENSIONS, query_all, scan_all, to_dynamo, to_plain

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
    factor: int = 2 ** max(0, min(attempts, 20) - 1)
    return min(BACKOFF_BASE * factor, BACKOFF_MAX)


def is_deferred(record: dict[str, Any] | None, now: datetime) -> bool:
    if not record:
        return False
    due = parse_iso(record.get("nextAttemptAt"))
    return due is not None and due > now


@dataclass(frozen=True)
class FailedExtension:
    """An extension of one staging server into one target that DRS refused (QUOTA_SK: the target's quota)."""

    target_account_id: str
    region: str
    staging_server_arn: str
    staging_account_id: str | None
    code: str
    message: str
    execution_arn: str
    hostname: str | None = None


@dataclass(frozen=True)
class Extension:
    """One staging server extended into one target: the audit record."""

    target_account_id: str
    region: str
    staging_server_arn: str
    staging_account_id: str
    extended_server_arn: str | None
    execution_arn: str
    run_id: str
    hostname: str | None = None


@dataclass
class ExtensionStore:
    table: Any

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        return query_all(self.table, **kwargs)

    # ---- failures
    def failures(self, target_account_id: str, region: str) -> dict[str, dict[str, Any]]:
        """Every failure record of one (target, region), by staging server ARN (QUOTA_SK for the quota)."""
        rows = self._query(KeyConditionExpression=STAGING_EXTENSIONS.partition(failure_pk(target_account_id, region)))
        return {r[STAGING_EXTENSIONS.sort_key]: r for r in rows}

    def record_failure(
        self, failure: FailedExtension, *, previous: dict[str, Any] | None, now: datetime | None = None
    ) -> dict[str, Any]:
        """Remember a failed extension with its backoff: the next attempt waits longer after each failure."""
        now = now or utc_now()
        attempts = int((previous or {}).get("attempts", 0)) + 1
        record = {
            **STAGING_EXTENSIONS.key(failure_pk(failure.target_account_id, failure.region), failure.staging_server_arn),
            "targetAccountId": failure.target_account_id,
            "region": failure.region,
            "stagingServerArn": failure.staging_server_arn,
            "stagingAccountId": failure.staging_account_id,
            "hostname": failure.hostname,
            "errorCode": failure.code,
            "errorMessage": failure.message[:1000],
            "attempts": attempts,
            "firstFailedAt": (previous or {}).get("firstFailedAt") or iso(now),
            "lastAttemptAt": iso(now),
            "nextAttemptAt": iso(now + backoff(attempts)),
            "lastExecutionArn": failure.execution_arn,
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
        """Remember that the target's quota was hit in this region: no extension there before it is due."""
        failure = FailedExtension(
            target_account_id, region, QUOTA_SK, None, "ServiceQuotaExceededException", message, execution_arn
        )
        return self.record_failure(failure, previous=previous, now=now)

    def clear_failures(self, target_account_id: str, region: str, keys: list[str]) -> None:
        if not keys:
            return
        with self.table.batch_writer() as batch:
            for sk in keys:
                batch.delete_item(Key=STAGING_EXTENSIONS.key(failure_pk(target_account_id, region), sk))

    # ---- audit
    def record_extension(self, extension: Extension, *, now: datetime | None = None) -> dict[str, Any]:
        at = iso(now or utc_now())
        record = {
            **STAGING_EXTENSIONS.key(
                audit_pk(extension.target_account_id, extension.region), f"{at}#{extension.staging_server_arn}"
            ),
            "event": "EXTENDED",
            "targetAccountId": extension.target_account_id,
            "region": extension.region,
            "stagingServerArn": extension.staging_server_arn,
            "stagingAccountId": extension.staging_account_id,
            "hostname": extension.hostname,
            "extendedServerArn": extension.extended_server_arn,
            "extendedAt": at,
            "executionArn": extension.execution_arn,
            "runId": extension.run_id,
        }
        record = {k: v for k, v in record.items() if v is not None}
        self.table.put_item(Item=to_dynamo(record))
        return record

    def extensions(self, target_account_id: str, region: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The audit trail of one (target, region), newest first."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": STAGING_EXTENSIONS.partition(audit_pk(target_account_id, region)),
            "ScanIndexForward": False,
        }
        if limit is None:
            return self._query(**kwargs)
        rows = self.table.query(**kwargs, Limit=limit).get("Items", [])
        return [to_plain(r) for r in rows]

    def all_failures(self) -> list[dict[str, Any]]:
        """Every target's failure records (the table is small: failures are few and expire)."""
        return [
            r for r in scan_all(self.table) if str(r.get(STAGING_EXTENSIONS.partition_key, "")).startswith("failure#")
        ]
