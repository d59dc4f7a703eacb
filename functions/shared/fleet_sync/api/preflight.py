"""Before a sync starts: refuse an input its plan would reject, so the caller gets a 400 naming the field
instead of a 202 and an execution that fails (and trips the sync's FailedAlarm).

The check is the plan's own (the sync's account selection, its scoped plan, the shared scope), run against
the accounts table as it is now: one rule, two places it is applied.
"""

from __future__ import annotations

from typing import Any

from ..core import aws
from ..core.errors import InvalidSyncInput
from ..core.regions import drs_regions
from ..core.settings import Settings
from ..run.accounts import AccountsStore
from ..run.plan import scope
from ..run.registry import sync_spec
from .common import ApiValidationError


def check_can_start(sync: str, sync_input: dict[str, Any], settings: Settings) -> None:
    """Raise ApiValidationError when the sync's plan would refuse this (already well-formed) input."""
    spec = sync_spec(sync)
    request = spec.input_model.model_validate(sync_input)
    registered = AccountsStore(aws.dynamodb().Table(settings.accounts_table)).all()
    all_regions = drs_regions(settings.drs_regions)
    try:
        accounts = [a.accountId for a in spec.select_accounts(registered, request)]
        scoped = spec.scoped_plan(request, accounts, all_regions) if spec.scoped_plan else None
        if scoped is None:
            scope(request, accounts, all_regions)
    except InvalidSyncInput as exc:
        field, sep, reason = str(exc).partition(": ")
        raise ApiValidationError(field if sep else "body", reason if sep else field, "body") from None
