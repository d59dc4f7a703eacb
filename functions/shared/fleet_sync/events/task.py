"""The DRS event task: one event from the hub's bus into at most one scoped run per sync and pair and window.

1. The event must be one the hub acts on (drs_events.py) from a registered, enabled account: the bus's
   resource policy admits the organization or the accounts it lists, and this check holds whatever it says.
   Anything else is rejected (counted, logged) and nothing is written.
2. An event that means servers exist makes its pair active in region status at once, so every plan scans it.
3. Each sync the event asks for gets a scoped run of the pair, unless an earlier event opened the pair's
   window for that sync less than the debounce window ago (one conditional write decides, so a storm of
   events handled at once starts one run). Syncs that cover target accounts only (recovery instances,
   staging) are not asked for other accounts.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field, ValidationError

from ..core import aws
from ..core.clock import iso, utc_now
from ..core.observability import logger, metrics
from ..core.settings import Settings
from ..run.accounts import AccountRecord, AccountsStore
from ..run.region_status import RegionStatusStore, invalidate_region_cache
from ..run.start import start_sync
from ..run.sync_state import SyncStateStore
from .drs_events import INVENTORY, RECOVERY_INSTANCES, STAGING, DrsEvent, Meaning, meaning_of

TARGET_ONLY = (RECOVERY_INSTANCES, STAGING)

Outcome = Literal["handled", "ignored", "rejected"]


class EventResult(BaseModel):
    """What the task did with one event."""

    outcome: Outcome
    accountId: str | None = None
    region: str | None = None
    eventName: str | None = None
    reason: str | None = None
    markedActive: bool = False
    started: list[dict[str, Any]] = Field(default_factory=list)  # {sync, executionArn}
    debounced: list[str] = Field(default_factory=list)  # syncs whose window was still on

    def dump(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


def handle_event(raw: Any, settings: Settings, *, now: float | None = None) -> EventResult:
    """Act on one event (see the module's docstring); the metrics are published by the handler."""
    metrics.namespace = settings.metrics_namespace
    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=1)
    try:
        event = DrsEvent.model_validate(raw)
    except ValidationError as exc:
        return _rejected(None, f"not an EventBridge event: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}")
    meaning = meaning_of(event)
    if meaning is None:
        logger.info("event the hub does not act on", extra={"source": event.source, "eventName": event.name})
        return EventResult(outcome="ignored", accountId=event.account, region=event.region, eventName=event.name)
    ddb = aws.dynamodb()
    account = AccountsStore(ddb.Table(settings.accounts_table)).get(event.account, consistent=True)
    if account is None or not account.enabled:
        why = "not registered" if account is None else "disabled"
        return _rejected(event, f"account {event.account} is {why} in the accounts table")
    result = EventResult(outcome="handled", accountId=event.account, region=event.region, eventName=event.name)
    if meaning.servers_exist:
        result.markedActive = _mark_active(ddb, settings, event)
    state = SyncStateStore(ddb.Table(settings.sync_state_table))
    for sync in _syncs_for(meaning, account):
        opened = state.open_event_window(
            event.account, event.region, sync, settings.event_debounce_seconds, now=time.time() if now is None else now
        )
        if not opened:
            result.debounced.append(sync)
            metrics.add_metric(name="EventsDebounced", unit=MetricUnit.Count, value=1)
            continue
        result.started.append(_start(sync, event, settings, state))
    logger.info("event handled", extra=result.dump())
    return result


def _rejected(event: DrsEvent | None, reason: str) -> EventResult:
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
    logger.warning("event rejected", extra={"reason": reason, "eventId": event.id if event else None})
    if event is None:
        return EventResult(outcome="rejected", reason=reason)
    return EventResult(
        outcome="rejected", accountId=event.account, region=event.region, eventName=event.name, reason=reason
    )


def _mark_active(ddb: Any, settings: Settings, event: DrsEvent) -> bool:
    marked = RegionStatusStore(ddb.Table(settings.region_status_table)).mark_active(event.account, event.region)
    if marked:  # every container's cached active set is stale now
        invalidate_region_cache(ddb.Table(settings.sync_state_table))
    return marked


def _syncs_for(meaning: Meaning, account: AccountRecord) -> list[str]:
    return [s for s in meaning.syncs if account.kind == "target" or s not in TARGET_ONLY]


def sync_input(sync: str, event: DrsEvent) -> dict[str, Any]:
    """The scoped run's execution input for the event's pair."""
    if sync == INVENTORY:
        return {"accountId": event.account, "region": event.region, "eventTime": event.time}
    if sync == STAGING:
        return {"targetAccounts": [event.account], "regions": [event.region]}
    return {"accountId": event.account, "region": event.region}


def _start(sync: str, event: DrsEvent, settings: Settings, state: SyncStateStore) -> dict[str, Any]:
    """Start the sync's scoped run. When another run holds the sync's lock, the run is started all the same
    and waits for the lock in its first state (it never writes beside that run), so the window stays open and
    the rest of a storm is debounced. If the run cannot start at all, the window is closed again and the
    invocation fails: Lambda retries it (1 and 2 minutes later). The pair is active by then, so the next
    scheduled run scans it whatever happens."""
    name = f"{sync}-event-{event.account}-{event.region}-{int(time.time())}"
    try:
        started = start_sync(sync, sync_input(sync, event), settings, name=name, wait_for_lock=True)
    except Exception:
        state.close_event_window(event.account, event.region, sync)
        raise
    metrics.add_metric(name="EventRunsStarted", unit=MetricUnit.Count, value=1)
    if started["waitsForLock"]:
        metrics.add_metric(name="EventsDeferred", unit=MetricUnit.Count, value=1)
        logger.info("another run holds the lock: the scoped run waits for it", extra={"sync": sync})
    return {
        "sync": sync,
        "executionArn": started["executionArn"],
        "waitsForLock": started["waitsForLock"],
        "at": iso(utc_now()),
    }
