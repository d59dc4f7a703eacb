"""The frame every sync's worker runs its work in: the account's credentials (cached per container), call
counting, error classification, and the item result stored in the sync-state table (not in the state payload).
The account rows of a run are read once per container and run (one Scan), not once per work item.

Each sync's `syncs/<sync>/work.py` defines `work(ctx) -> WorkOutcome`, its work on one (account, region);
its handler calls `run_work_item(item, settings, work)`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..core import aws
from ..core.errors import AccountNotRegistered, PairHoldsRows, RegionScanThrottled, ServerNotInExecution
from ..core.observability import logger
from ..core.reads import Access
from ..core.regions import AVAILABLE, THROTTLED, is_known_empty, status_for_error
from ..core.settings import Settings
from ..core.tables import Table
from .accounts import AccountRecord, AccountsStore, account_credentials, trusted_origin
from .models import MAX_NOTES_PER_ITEM, MAX_WARNINGS_PER_ITEM, ItemNote, ItemResult, WorkItem
from .region_status import RegionStatusStore
from .sync_state import SyncStateStore


@dataclass
class WorkContext:
    item: WorkItem
    settings: Settings
    account: AccountRecord
    credentials: aws.Credentials
    counter: aws.ApiCallCounter
    ddb: Any
    _credentials_by_account: dict[str, aws.Credentials] = field(default_factory=dict)

    def client(self, service: str, *, credentials: aws.Credentials | None = None, region: str | None = None) -> Any:
        """A counted client in the item's account and region (or the given credentials and region)."""
        return aws.client(
            service,
            credentials=credentials or self.credentials,
            region=region or self.item.region,
            counter=self.counter,
        )

    def credentials_for(self, account_id: str) -> aws.Credentials:
        """Credentials in the account where a server's EC2 instance runs, assumed once per item; raises
        OriginNotTrusted unless that account lets the item's DRS account read it."""
        if account_id == self.account.accountId:
            return self.credentials
        if account_id not in self._credentials_by_account:
            found = run_accounts(self.item.runId, self.settings).get(account_id)
            record = trusted_origin(found, account_id, self.account.accountId)
            self._credentials_by_account[account_id] = account_credentials(
                record,
                default_role_name=self.settings.cross_account_role_name,
                sync=self.item.sync,
                counter=self.counter,
                execution=self.item.runId,
            )
        return self._credentials_by_account[account_id]

    @property
    def access(self) -> Access:
        return Access(self.credentials, self.credentials_for, self.client)

    def table(self, name: str) -> Any:
        return aws.table(name)

    def product_table(self, table: Table) -> Any:
        return aws.table(self.settings.table_name(table))


@dataclass
class WorkOutcome:
    server_count: int | None = None  # the DRS source servers listed in the pair; None when none are listed
    replicating_count: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[ItemNote] = field(default_factory=list)


Work = Callable[[WorkContext], WorkOutcome]

RUNS_REMEMBERED = 4  # runs of several syncs may overlap in one container: a few, not every run ever seen
_run_accounts: OrderedDict[str, dict[str, AccountRecord]] = OrderedDict()
_run_accounts_lock = threading.Lock()


def run_accounts(run_id: str, settings: Settings) -> dict[str, AccountRecord]:
    """Every account row (disabled ones too), as read by this container's first work item of the run."""
    with _run_accounts_lock:
        known = _run_accounts.get(run_id)
    if known is None:
        rows = AccountsStore(aws.table(settings.accounts_table)).all(include_disabled=True)
        known = {a.accountId: a for a in rows}
        with _run_accounts_lock:
            _run_accounts[run_id] = known
            while len(_run_accounts) > RUNS_REMEMBERED:
                _run_accounts.popitem(last=False)
    return known


def run_work_item(item: WorkItem, settings: Settings, work: Work) -> ItemResult:
    """Run one (account, region) and store its result. A failure is recorded for this pair only;
    throttling that outlasts the SDK's retries is raised so the state machine retries the item."""
    started = time.monotonic()
    ddb = aws.dynamodb()
    counter = aws.ApiCallCounter()
    log_keys = {"sync": item.sync, "accountId": item.accountId, "region": item.region, "runId": item.runId}
    logger.append_keys(**log_keys)
    try:
        result = _run(item, settings, work, ddb, counter)
    except PairHoldsRows as exc:
        result = _anomaly(item, exc.code, str(exc), counter)
    except (ClientError, BotoCoreError, AccountNotRegistered, ServerNotInExecution) as exc:
        result = _failed(item, exc, counter, lambda: _known_servers(ddb, settings, item))
    result.durationMs = int((time.monotonic() - started) * 1000)
    SyncStateStore(aws.table(settings.sync_state_table)).put_item_result(item.runId, result)
    logger.info(
        "work item done",
        extra={"status": result.status, "apiCalls": result.apiCalls, "serverCount": result.serverCount},
    )
    logger.remove_keys(list(log_keys))
    return result


def _run(item: WorkItem, settings: Settings, work: Work, ddb: Any, counter: aws.ApiCallCounter) -> ItemResult:
    account = run_accounts(item.runId, settings).get(item.accountId)
    if account is None:
        raise AccountNotRegistered(f"account {item.accountId} is not in the accounts table")
    credentials = account_credentials(
        account,
        default_role_name=settings.cross_account_role_name,
        sync=item.sync,
        counter=counter,
        execution=item.runId,
    )
    outcome = work(WorkContext(item, settings, account, credentials, counter, ddb))
    return ItemResult(
        accountId=item.accountId,
        region=item.region,
        status=AVAILABLE,
        ok=True,
        serverCount=outcome.server_count,
        replicatingCount=outcome.replicating_count,
        apiCalls=counter.as_dict(),
        counts=outcome.counts,
        warnings=outcome.warnings[:MAX_WARNINGS_PER_ITEM],
        notes=outcome.notes[:MAX_NOTES_PER_ITEM],
    )


def _failed(
    item: WorkItem, exc: Exception, counter: aws.ApiCallCounter, known_servers: Callable[[], int]
) -> ItemResult:
    code = aws.error_code(exc)
    status = status_for_error(code)
    if status == THROTTLED:
        logger.warning("still throttled after SDK retries: handing the item back to the state machine")
        raise RegionScanThrottled(f"{item.accountId}/{item.region}: {aws.error_message(exc)}") from exc
    if is_known_empty(code):
        held = known_servers()
        if held:
            return _anomaly(item, code, f"{code}: {aws.error_message(exc)} (last seen with {held} servers)", counter)
        return _known_empty(item, status, code, counter)
    logger.warning("work item failed", extra={"errorCode": code, "status": status})
    return _item_error(item, status, counter, code, aws.error_message(exc))


def _item_error(item: WorkItem, status: str, counter: aws.ApiCallCounter, code: str, message: str) -> ItemResult:
    return ItemResult(
        accountId=item.accountId,
        region=item.region,
        status=status,
        ok=False,
        apiCalls=counter.as_dict(),
        errorCode=code,
        errorMessage=message[:1000],
    )


def _known_servers(ddb: Any, settings: Settings, item: WorkItem) -> int:
    """The pair's server count as region status last recorded it (0 when it has none)."""
    row = RegionStatusStore(ddb.Table(settings.region_status_table)).get(item.accountId, item.region)
    return (row.serverCount or 0) if row is not None else 0


def _known_empty(item: WorkItem, status: str, code: str, counter: aws.ApiCallCounter) -> ItemResult:
    """DRS holds nothing in the pair (never initialized there, or the region is not enabled): an answer."""
    logger.info("pair known to be empty", extra={"status": status, "errorCode": code})
    return ItemResult(
        accountId=item.accountId,
        region=item.region,
        status=status,
        ok=True,
        serverCount=0,
        replicatingCount=0,
        apiCalls=counter.as_dict(),
        errorCode=code,
    )


def _anomaly(item: WorkItem, code: str, message: str, counter: aws.ApiCallCounter) -> ItemResult:
    """A pair the product holds servers of now answers as empty: report it and keep every row."""
    status = status_for_error(code)
    logger.error("pair with servers now answers as empty: rows kept", extra={"status": status, "errorCode": code})
    return _item_error(item, status, counter, code, message)
