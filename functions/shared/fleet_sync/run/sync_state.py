"""The sync-state table, written by this store alone: per-run item results and summaries, one lock and one
status record per sync, the region-cache generation stamp, and the keys the tag sync manages per server.

Keys (pk / sk): `run#{runId}` / `item#{accountId}#{region}` and `summary`; `lock#{sync}` / `lock`;
`status#{sync}` / `status`; `cache#regions` / `generation`; `tags#{accountId}#{region}` / the server id;
`event#{accountId}#{region}` / the sync a DRS event started for the pair (its debounce window).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from ..core import aws
from ..core.clock import iso, utc_now
from ..core.observability import logger
from ..core.regions import status_for_error
from ..core.settings import Settings
from ..core.tables import SYNC_STATE, query_all, to_dynamo, to_plain
from .models import ItemResult

ITEM_TTL_SECONDS = 14 * 86400
SUMMARY_TTL_SECONDS = 90 * 86400
LOCK_LEASE_SECONDS = 6 * 3600  # how long a lock row lives; every state machine times out well before it
# A sync's state machine stops itself after this long (its TimeoutSeconds), so a holder that still runs is
# never older than its lease: takeover asks whether the holder runs, never how old the lock is.
RUN_TIMEOUT_SECONDS = 5 * 3600
# A writer outside the state machines (the API's DRS fallback) holds the lock for one function invocation,
# which Lambda ends after at most 15 minutes: its lease is its bound.
INVOCATION_PREFIX = "invocation#"
INVOCATION_LEASE_SECONDS = 900
# A lock taken for an execution about to be started (a scoped run, by the API that starts it) counts as held
# this long while its execution does not exist yet; once it exists, only whether it runs counts.
START_GRACE_SECONDS = 60
GENERATION_KEY = SYNC_STATE.key("cache#regions", "generation")
EVENT_PREFIX = "event#"
EVENT_WINDOW_TTL_SECONDS = 86400  # a closed window is only history: the table's TTL removes it


def item_expires_at() -> int:
    """The TTL (epoch seconds) of an item result written now, by a worker or by the state machine's Catch."""
    return int(time.time() + ITEM_TTL_SECONDS)


def _run_pk(run_id: str) -> str:
    return f"run#{run_id}"


def _lock_key(sync: str) -> dict[str, str]:
    return SYNC_STATE.key(f"lock#{sync}", "lock")


def _status_key(sync: str) -> dict[str, str]:
    return SYNC_STATE.key(f"status#{sync}", "status")


def _tags_pk(account_id: str, region: str) -> str:
    return f"tags#{account_id}#{region}"


def _conditional_failed(exc: ClientError) -> bool:
    return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")


@dataclass(frozen=True)
class TagState:
    """What the tag sync remembers of one server: the keys it wrote, and when it last set copyTags."""

    server_id: str
    managed: frozenset[str]
    copy_tags_checked_at: str | None


@dataclass
class SyncStateStore:
    table: Any

    @classmethod
    def of(cls, settings: Settings) -> SyncStateStore:
        """The store on the stack's sync-state table."""
        return cls(aws.dynamodb().Table(settings.sync_state_table))

    # ---- the debounce window of the DRS events of one pair
    def open_event_window(self, account_id: str, region: str, sync: str, seconds: int, *, now: float) -> bool:
        """Open the pair's window for `sync`: True for the first event (the caller starts the run), False while
        a window opened by an earlier event is still on. One conditional write, so a storm of events handled
        at once opens one window."""
        until = int(now) + seconds
        try:
            self.table.put_item(
                Item={
                    **SYNC_STATE.key(f"{EVENT_PREFIX}{account_id}#{region}", sync),
                    "windowEndsAt": until,
                    "openedAt": iso(utc_now()),
                    "expiresAt": int(until + EVENT_WINDOW_TTL_SECONDS),
                },
                ConditionExpression="attribute_not_exists(pk) OR windowEndsAt <= :now",
                ExpressionAttributeValues={":now": int(now)},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def close_event_window(self, account_id: str, region: str, sync: str) -> None:
        """Close the pair's window for `sync` (its run could not start): the next event opens it again."""
        self.table.delete_item(Key=SYNC_STATE.key(f"{EVENT_PREFIX}{account_id}#{region}", sync))

    # ---- the lock of a sync
    def acquire_lock(
        self,
        sync: str,
        execution_arn: str,
        *,
        is_running: Callable[[str], bool | None],
        now: float | None = None,
        starting: bool = False,
    ) -> bool:
        """Take the sync's lock for this execution. False when another live execution holds it.

        `is_running(execution_arn)` tells whether a holder still runs (None: no such execution); a holder
        that failed, timed out or was stopped without releasing its lock is taken over at once. A holder that
        still runs keeps its lock whatever its lease says (its state machine times out before the lease
        ends). `starting`: the execution is about to be started, so the lock is held for it during
        START_GRACE_SECONDS before its execution exists.
        """
        now = time.time() if now is None else now
        item: dict[str, Any] = {
            **_lock_key(sync),
            "executionArn": execution_arn,
            "acquiredAt": iso(utc_now()),
            "expiresAt": int(now + LOCK_LEASE_SECONDS),
        }
        if starting:
            item["startingUntil"] = int(now + START_GRACE_SECONDS)
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR executionArn = :me",
                ExpressionAttributeValues={":me": execution_arn},
            )
            return True
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        lock = self.lock(sync) or {}
        holder = lock.get("executionArn")
        if holder and _holder_runs(holder, lock, is_running, now):
            logger.info("another run holds the lock", extra={"sync": sync, "holder": holder})
            return False
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR executionArn = :holder",
                ExpressionAttributeValues={":holder": holder or ""},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False  # someone else took it over first
            raise
        logger.warning("took over the lock of a run that no longer runs", extra={"sync": sync, "holder": holder})
        return True

    def try_lock_for_invocation(self, sync: str, holder: str, *, now: float | None = None) -> bool:
        """Take the sync's lock for one function invocation: only when no run holds it (nor another
        invocation whose lease is still on). False when it is held: the caller must not write."""
        now = time.time() if now is None else now
        item = {
            **_lock_key(sync),
            "executionArn": INVOCATION_PREFIX + holder,
            "acquiredAt": iso(utc_now()),
            "expiresAt": int(now + INVOCATION_LEASE_SECONDS),
        }
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (begins_with(executionArn, :inv) AND expiresAt < :now)"
                ),
                ExpressionAttributeValues={":inv": INVOCATION_PREFIX, ":now": int(now)},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def release_invocation_lock(self, sync: str, holder: str) -> bool:
        return self.release_lock(sync, INVOCATION_PREFIX + holder)

    def release_lock(self, sync: str, execution_arn: str) -> bool:
        try:
            self.table.delete_item(
                Key=_lock_key(sync),
                ConditionExpression="executionArn = :me",
                ExpressionAttributeValues={":me": execution_arn},
            )
            return True
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise

    def lock(self, sync: str) -> dict[str, Any] | None:
        """Who holds the sync's lock (executionArn, acquiredAt, expiresAt), or None."""
        item = self.table.get_item(Key=_lock_key(sync)).get("Item")
        return {k: v for k, v in to_plain(item).items() if k not in SYNC_STATE.key_names} if item else None

    # ---- item results
    def put_item_result(self, run_id: str, result: ItemResult) -> None:
        item = {
            **SYNC_STATE.key(_run_pk(run_id), f"item#{result.accountId}#{result.region}"),
            "expiresAt": item_expires_at(),
            **to_dynamo(result.model_dump(exclude_none=True)),
        }
        self.table.put_item(Item=item)

    def item_results(self, run_id: str) -> list[ItemResult]:
        """Every item result of a run, all pages. Items whose worker failed outright were recorded by the
        state machine's Catch with only an error code and its cause."""
        condition = SYNC_STATE.partition(_run_pk(run_id)) & Key(SYNC_STATE.sort_key).begins_with("item#")
        return [_item_result(raw) for raw in query_all(self.table, KeyConditionExpression=condition)]

    # ---- summaries and the status of a sync
    def put_summary(self, run_id: str, summary: dict[str, Any]) -> None:
        self.table.put_item(
            Item={
                **SYNC_STATE.key(_run_pk(run_id), "summary"),
                "expiresAt": int(time.time() + SUMMARY_TTL_SECONDS),
                "summary": json.dumps(summary),
            }
        )

    def summary(self, run_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key=SYNC_STATE.key(_run_pk(run_id), "summary")).get("Item")
        return json.loads(item["summary"]) if item else None

    def put_sync_status(self, sync: str, summary: dict[str, Any]) -> None:
        self.table.put_item(
            Item={
                **_status_key(sync),
                "sync": sync,
                "executionArn": summary["executionArn"],
                "finishedAt": iso(utc_now()),
                "decision": summary["decision"],
                "outcome": summary["outcome"],
                "workItemCount": summary["workItemCount"],
                "errorCount": summary["errorCount"],
                "durationMs": summary.get("durationMs", 0),
                "summary": json.dumps(summary),
            }
        )

    def sync_status(self, sync: str) -> dict[str, Any] | None:
        """The last finished run of a sync: the record Finish wrote, its summary parsed."""
        item = self.table.get_item(Key=_status_key(sync)).get("Item")
        if not item:
            return None
        out: dict[str, Any] = {k: v for k, v in to_plain(item).items() if k not in SYNC_STATE.key_names}
        out["summary"] = json.loads(out.get("summary") or "{}")
        return out

    # ---- the region-cache generation stamp
    def generation(self) -> str | None:
        try:
            item = self.table.get_item(Key=GENERATION_KEY).get("Item")
        except Exception as exc:  # an unreadable stamp only costs a cache miss
            logger.warning("region cache generation unreadable", extra={"error": str(exc)})
            return None
        return str(item["generation"]) if item else None

    def bump_generation(self) -> str:
        generation = uuid.uuid4().hex
        self.table.put_item(Item={**GENERATION_KEY, "generation": generation, "updatedAt": iso(utc_now())})
        return generation

    # ---- the keys the tag sync manages, per server of a pair
    def tag_state(self, account_id: str, region: str) -> dict[str, dict[str, Any]]:
        items = query_all(self.table, KeyConditionExpression=SYNC_STATE.partition(_tags_pk(account_id, region)))
        return {item["sk"]: item for item in items}

    def save_tag_states(self, account_id: str, region: str, states: list[TagState]) -> None:
        """Each server's managed keys and copyTags check, 25 rows per BatchWriteItem."""
        if not states:
            return
        now = iso(utc_now())
        with self.table.batch_writer() as batch:
            for state in states:
                item: dict[str, Any] = {
                    **SYNC_STATE.key(_tags_pk(account_id, region), state.server_id),
                    "managedKeys": sorted(state.managed),
                    "updatedAt": now,
                }
                if state.copy_tags_checked_at:
                    item["copyTagsCheckedAt"] = state.copy_tags_checked_at
                batch.put_item(Item=item)

    def forget_tag_state(self, account_id: str, region: str, server_ids: list[str]) -> None:
        if not server_ids:
            return
        with self.table.batch_writer() as batch:
            for sid in server_ids:
                batch.delete_item(Key=SYNC_STATE.key(_tags_pk(account_id, region), sid))


def _holder_runs(holder: str, lock: dict[str, Any], is_running: Callable[[str], bool | None], now: float) -> bool:
    """An execution holds the lock while it runs (one being started, for its grace); an invocation until its
    lease ends."""
    if holder.startswith(INVOCATION_PREFIX):
        return int(lock.get("expiresAt") or 0) >= now
    running = is_running(holder)
    if running is None:
        return int(lock.get("startingUntil") or 0) >= now
    return running


def _item_result(raw: dict[str, Any]) -> ItemResult:
    if "ok" in raw:
        return ItemResult.model_validate(raw)
    # written by "Record the failed item": {accountId, region, errorCode, cause}
    code = raw.get("errorCode") or "States.TaskFailed"
    message = raw.get("cause") or ""
    try:
        cause = json.loads(message)
        message = cause.get("errorMessage") or message
        code = cause.get("errorType") or code
    except (TypeError, ValueError, AttributeError):
        pass
    return ItemResult(
        accountId=raw["accountId"],
        region=raw["region"],
        status=status_for_error(code),
        ok=False,
        errorCode=code,
        errorMessage=str(message)[:1000],
    )
