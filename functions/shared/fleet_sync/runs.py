"""The sync-state table: per-run item results and summaries, one lock and one status record per sync.

Keys are built here and nowhere else.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

from .models import MAX_ERRORS_IN_SUMMARY, MAX_WORK_ITEMS_IN_SUMMARY, ItemResult
from .observability import logger
from .regions import iso, status_for_error, utc_now
from .tables import key, to_dynamo, to_plain

ITEM_TTL_SECONDS = 14 * 86400
SUMMARY_TTL_SECONDS = 90 * 86400
LOCK_LEASE_SECONDS = 6 * 3600  # a backstop only: a lock whose holder no longer runs is taken over at once


def run_key(run_id: str) -> str:
    return f"run#{run_id}"


def item_key(account_id: str, region: str) -> str:
    return f"item#{account_id}#{region}"


def lock_key(sync: str) -> dict[str, str]:
    return key("SYNC_STATE_TABLE", f"lock#{sync}", "lock")


def status_key(sync: str) -> dict[str, str]:
    return key("SYNC_STATE_TABLE", f"status#{sync}", "status")


# ------------------------------------------------------------------ lock


def acquire_lock(table: Any, sync: str, execution_arn: str, *, is_running, now: float | None = None) -> bool:
    """Take the sync's lock for this execution. False when another live execution holds it.

    `is_running(execution_arn) -> bool` tells whether a holder still runs; a holder that failed,
    timed out or was stopped without releasing its lock is taken over at once.
    """
    now = time.time() if now is None else now
    item = {
        **lock_key(sync),
        "executionArn": execution_arn,
        "acquiredAt": iso(utc_now()),
        "expiresAt": int(now + LOCK_LEASE_SECONDS),
    }
    try:
        table.put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now OR executionArn = :me",
            ExpressionAttributeValues={":now": int(now), ":me": execution_arn},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    holder = (table.get_item(Key=lock_key(sync)).get("Item") or {}).get("executionArn")
    if holder and is_running(holder):
        logger.info("another run holds the lock: skipping", extra={"sync": sync, "holder": holder})
        return False
    try:
        table.put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR executionArn = :holder",
            ExpressionAttributeValues={":holder": holder or ""},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False  # someone else took it over first
        raise
    logger.warning("took over the lock of a run that no longer runs", extra={"sync": sync, "holder": holder})
    return True


def release_lock(table: Any, sync: str, execution_arn: str) -> bool:
    try:
        table.delete_item(
            Key=lock_key(sync),
            ConditionExpression="executionArn = :me",
            ExpressionAttributeValues={":me": execution_arn},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


# ------------------------------------------------------------------ item results


def put_item_result(table: Any, run_id: str, result: ItemResult) -> None:
    item = {
        **key("SYNC_STATE_TABLE", run_key(run_id), item_key(result.accountId, result.region)),
        "expiresAt": int(time.time() + ITEM_TTL_SECONDS),
        **to_dynamo(result.model_dump(exclude_none=True)),
    }
    table.put_item(Item=item)


def list_item_results(table: Any, run_id: str) -> list[ItemResult]:
    """Every item result of a run, all pages. Items whose worker failed outright were recorded by the
    state machine's Catch with only an error code and its cause."""
    from boto3.dynamodb.conditions import Key

    out: list[ItemResult] = []
    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(run_key(run_id)) & Key("sk").begins_with("item#")}
    while True:
        page = table.query(**kwargs)
        for raw in page.get("Items", []):
            out.append(_item_result(to_plain(raw)))
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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
    except (TypeError, ValueError):
        pass
    return ItemResult(
        accountId=raw["accountId"],
        region=raw["region"],
        status=status_for_error(code),
        ok=False,
        errorCode=code,
        errorMessage=str(message)[:1000],
    )


# ------------------------------------------------------------------ summaries and status


def summarize(
    *,
    sync: str,
    run_id: str,
    execution_arn: str,
    plan: dict[str, Any],
    results: list[ItemResult],
    extra_counts: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The summary contract every sync returns (see docs/design.md)."""
    api_calls: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    errors = []
    for r in sorted(results, key=lambda r: (r.accountId, r.region)):
        api_calls.update(r.apiCalls)
        counts.update(r.counts)
        by_status[r.status] += 1
        if not r.ok:
            errors.append(
                {
                    "accountId": r.accountId,
                    "region": r.region,
                    "code": r.errorCode or r.status,
                    "message": r.errorMessage or "",
                }
            )
    work_items = plan.get("workItems", [])
    failed = len(errors)
    scanned = len(results)
    summary: dict[str, Any] = {
        "sync": sync,
        "status": "SUCCEEDED",
        "executionArn": execution_arn,
        "runId": run_id,
        "decision": plan["decision"],
        "outcome": "complete" if failed == 0 else ("failed" if failed == scanned else "partial"),
        "workItems": work_items[:MAX_WORK_ITEMS_IN_SUMMARY],
        "workItemCount": plan.get("workItemCount", len(work_items)),
        "activeRegions": plan.get("activeRegions", []),
        "regionsSkipped": plan.get("regionsSkipped", 0),
        "pairsTotal": plan.get("pairsTotal", 0),
        "pairsSkipped": plan.get("pairsSkipped", 0),
        "apiCalls": dict(sorted(api_calls.items())),
        "apiCallTotal": sum(api_calls.values()),
        "itemsByStatus": dict(sorted(by_status.items())),
        "serversSynced": sum(r.serverCount or 0 for r in results if r.ok),
        "errorCount": failed,
        "errors": errors[:MAX_ERRORS_IN_SUMMARY],
    }
    for name in extra_counts:
        summary[name] = counts.get(name, 0)
    summary["counts"] = dict(sorted(counts.items()))
    return summary


def put_summary(table: Any, run_id: str, summary: dict[str, Any]) -> None:
    table.put_item(
        Item={
            "pk": run_key(run_id),
            "sk": "summary",
            "expiresAt": int(time.time() + SUMMARY_TTL_SECONDS),
            "summary": json.dumps(summary),
        }
    )


def get_summary(table: Any, run_id: str) -> dict[str, Any] | None:
    item = table.get_item(Key=key("SYNC_STATE_TABLE", run_key(run_id), "summary")).get("Item")
    return json.loads(item["summary"]) if item else None


def put_sync_status(table: Any, sync: str, summary: dict[str, Any]) -> None:
    table.put_item(
        Item={
            **status_key(sync),
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


def get_sync_status(table: Any, sync: str) -> dict[str, Any] | None:
    item = table.get_item(Key=status_key(sync)).get("Item")
    if not item:
        return None
    out = to_plain(item)
    out["summary"] = json.loads(out.get("summary") or "{}")
    out.pop("pk", None)
    out.pop("sk", None)
    return out
