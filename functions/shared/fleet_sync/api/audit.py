"""The audit record of every write request to the API: who (the caller's IAM ARN, as API Gateway's AWS_IAM
authorization set it in `requestContext.identity`), what (method, route, path parameters, the body with its
secrets redacted), the answer's status and the ids it affected (executions started, accounts changed,
recovery instances terminated, cache rows dropped).

One JSON log line per request, message "write request" with an `audit` object: a CloudWatch Logs Insights
query `filter message = "write request"` lists them. Reads are not audited here (API Gateway's access log
records every request).
"""

from __future__ import annotations

import json
from typing import Any

from ..core.observability import logger

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# Values never written to a log: a caller's ExternalId is a shared secret between the hub and an account.
REDACTED = {"externalId"}
# The keys whose values name what a request affected, wherever they appear in the answer.
AFFECTED_KEYS = (
    "executionArn",
    "accountId",
    "targetAccountId",
    "stagingAccountId",
    "stagingAccountsRemoved",
    "recoveryInstanceID",
    "sourceServerID",
    "jobID",
)
# Parts of an answer that list what a request did NOT change.
UNAFFECTED = {"failed", "conflicts", "notInCache", "errors", "input", "stalePairs", "failedPairs", "pendingPairs"}


def redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in REDACTED and v is not None else redacted(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def affected_ids(body: Any) -> dict[str, list[str]]:
    """The ids an answer names, by key, each list sorted and without duplicates."""
    found: dict[str, set[str]] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in UNAFFECTED:
                    continue
                if key in AFFECTED_KEYS and isinstance(item, (str, list)):
                    found.setdefault(key, set()).update([item] if isinstance(item, str) else map(str, item))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body)
    return {k: sorted(v) for k, v in sorted(found.items())}


def _json(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return "<not JSON>"


def audit_record(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    context = event.get("requestContext") or {}
    identity = context.get("identity") or {}
    status = int(response.get("statusCode", 0))
    return {
        "callerArn": identity.get("userArn"),
        "callerAccountId": identity.get("accountId"),
        "sourceIp": identity.get("sourceIp"),
        "requestId": context.get("requestId"),
        "method": event.get("httpMethod"),
        "route": event.get("resource"),
        "path": event.get("path"),
        "pathParameters": event.get("pathParameters"),
        "request": redacted(_json(event.get("body"))),
        "status": status,
        "affected": affected_ids(_json(response.get("body"))) if status < 300 else {},
    }


def audited(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Log the audit record of a write request (any method but GET, HEAD, OPTIONS); the response unchanged."""
    if str(event.get("httpMethod", "")).upper() not in READ_METHODS:
        logger.info("write request", extra={"audit": audit_record(event, response)})
    return response
