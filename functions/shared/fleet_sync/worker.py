"""What every sync's worker does around its own work: one session per work item, call counting,
error classification, and the item result stored in the sync-state table (not in the state payload)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import aws
from .accounts import AccountRecord, account_session, get_account
from .errors import AccountNotRegistered, RegionScanThrottled
from .models import ItemResult, WorkItem
from .observability import logger
from .regions import AVAILABLE, THROTTLED, status_for_error
from .runs import put_item_result
from .settings import Settings


@dataclass
class WorkContext:
    item: WorkItem
    settings: Settings
    account: AccountRecord
    session: Any
    counter: aws.ApiCallCounter
    ddb: Any
    _sessions: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str, *, session: Any = None, region: str | None = None) -> Any:
        return aws.client(
            service, session=session or self.session, region=region or self.item.region, counter=self.counter
        )

    def session_for(self, account_id: str) -> Any:
        """A session in another account (e.g. where a server's EC2 instance runs), assumed once per item."""
        if account_id == self.account.accountId:
            return self.session
        if account_id not in self._sessions:
            record = get_account(self.ddb.Table(self.settings.accounts_table), account_id) or AccountRecord(
                accountId=account_id
            )
            self._sessions[account_id] = account_session(
                record,
                default_role_name=self.settings.cross_account_role_name,
                sync=self.item.sync,
                counter=self.counter,
            )
        return self._sessions[account_id]

    def table(self, name: str) -> Any:
        return self.ddb.Table(name)


@dataclass
class WorkOutcome:
    server_count: int | None = None
    replicating_count: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def run_work_item(item: WorkItem, settings: Settings, work: Callable[[WorkContext], WorkOutcome]) -> ItemResult:
    """Run one (account, region) and store its result. A failure is recorded for this pair only;
    throttling that outlasts the SDK's retries is raised so the state machine retries the item."""
    started = time.monotonic()
    ddb = aws.dynamodb()
    counter = aws.ApiCallCounter()
    log_keys = {"sync": item.sync, "accountId": item.accountId, "region": item.region, "runId": item.runId}
    logger.append_keys(**log_keys)
    try:
        account = get_account(ddb.Table(settings.accounts_table), item.accountId)
        if account is None:
            raise AccountNotRegistered(f"account {item.accountId} is not in the accounts table")
        session = account_session(
            account, default_role_name=settings.cross_account_role_name, sync=item.sync, counter=counter
        )
        outcome = work(WorkContext(item, settings, account, session, counter, ddb))
        result = ItemResult(
            accountId=item.accountId,
            region=item.region,
            status=AVAILABLE,
            ok=True,
            serverCount=outcome.server_count,
            replicatingCount=outcome.replicating_count,
            apiCalls=counter.as_dict(),
            counts=outcome.counts,
            warnings=outcome.warnings[:20],
        )
    except (ClientError, BotoCoreError, AccountNotRegistered) as exc:
        code = aws.error_code(exc)
        status = status_for_error(code)
        if status == THROTTLED:
            logger.warning("still throttled after SDK retries: handing the item back to the state machine")
            raise RegionScanThrottled(f"{item.accountId}/{item.region}: {aws.error_message(exc)}") from exc
        logger.warning("work item failed", extra={"errorCode": code, "status": status})
        result = ItemResult(
            accountId=item.accountId,
            region=item.region,
            status=status,
            ok=False,
            apiCalls=counter.as_dict(),
            errorCode=code,
            errorMessage=aws.error_message(exc),
        )
    result.durationMs = int((time.monotonic() - started) * 1000)
    put_item_result(ddb.Table(settings.sync_state_table), item.runId, result)
    logger.info(
        "work item done",
        extra={"status": result.status, "apiCalls": result.apiCalls, "serverCount": result.serverCount},
    )
    for key in log_keys:
        logger.remove_keys([key])
    return result
