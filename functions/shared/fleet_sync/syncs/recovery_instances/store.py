"""The recovery-instance cache table: a pair's rows through its index, the rows of one execution, rows by
key (BatchGetItem), batched writes and deletes."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from ...core.aws import error_code as aws_error_code
from ...core.reads import chunks
from ...core.tables import (
    RECOVERY_BY_ACCOUNT_REGION,
    RECOVERY_BY_SOURCE_EXECUTION,
    RECOVERY_INSTANCES,
    account_region,
    query_all,
    to_dynamo,
    to_plain,
)

BATCH_GET_KEYS = 100  # BatchGetItem maximum keys per request
BATCH_GET_ATTEMPTS = 8  # first call plus retries of UnprocessedKeys
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_MAX_SECONDS = 2.0
KEY = RECOVERY_INSTANCES.partition_key


@dataclass
class CacheStore:
    table: Any

    def pair_rows(self, account_id: str, region: str) -> dict[str, dict[str, Any]]:
        items = query_all(
            self.table,
            IndexName=RECOVERY_BY_ACCOUNT_REGION.name,
            KeyConditionExpression=Key(RECOVERY_BY_ACCOUNT_REGION.partition_key).eq(account_region(account_id, region)),
        )
        return {item[KEY]: item for item in items}

    def rows_of_execution(self, execution_id: str) -> list[dict[str, Any]]:
        return query_all(
            self.table,
            IndexName=RECOVERY_BY_SOURCE_EXECUTION.name,
            KeyConditionExpression=Key(RECOVERY_BY_SOURCE_EXECUTION.partition_key).eq(execution_id),
        )

    def put_rows(self, rows: list[dict[str, Any]]) -> None:
        with self.table.batch_writer(overwrite_by_pkeys=[KEY]) as batch:
            for row in rows:
                batch.put_item(Item=to_dynamo(row))

    def mark(self, source_server_id: str, **fields: Any) -> None:
        """Set (or, with ``None``, remove) fields of an existing row; a row deleted meanwhile stays deleted."""
        sets = {k: v for k, v in fields.items() if v is not None}
        removes = [k for k, v in fields.items() if v is None]
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        try:
            self.table.update_item(
                Key=RECOVERY_INSTANCES.key(source_server_id),
                UpdateExpression=expression,
                ConditionExpression=Attr(KEY).exists(),
                ExpressionAttributeNames={f"#{k}": k for k in fields},
                ExpressionAttributeValues={f":{k}": to_dynamo(v) for k, v in sets.items()},
            )
        except ClientError as exc:
            if aws_error_code(exc) != "ConditionalCheckFailedException":
                raise

    def delete_rows(self, source_server_ids: Iterable[str]) -> int:
        ids = sorted(set(source_server_ids))
        with self.table.batch_writer(overwrite_by_pkeys=[KEY]) as batch:
            for sid in ids:
                batch.delete_item(Key=RECOVERY_INSTANCES.key(sid))
        return len(ids)


def batch_get_rows(
    ddb: Any, table_name: str, source_server_ids: list[str], *, sleep: Callable[[float], None] = time.sleep
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Rows by `sourceServerID`, 100 keys per BatchGetItem; UnprocessedKeys retried with backoff and jitter.

    Returns (rows by id, ids still unprocessed after every retry).
    """
    rows: dict[str, dict[str, Any]] = {}
    unprocessed: list[str] = []
    for batch in chunks(sorted(set(source_server_ids)), BATCH_GET_KEYS):
        request: dict[str, Any] = {table_name: {"Keys": [RECOVERY_INSTANCES.key(sid) for sid in batch]}}
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = ddb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table_name, []):
                rows[item[KEY]] = to_plain(item)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            if attempt + 1 < BATCH_GET_ATTEMPTS:
                sleep(random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
        if request:
            unprocessed.extend(k[KEY] for k in request.get(table_name, {}).get("Keys", []))
    return rows, unprocessed
