"""Starting the recovery-instance sync: a full run, or a scoped run for one completed wave."""

from __future__ import annotations

from typing import Any

from ...core.settings import Settings, get_settings
from ...run.start import start_sync
from .spec import SYNC, RecoveryInstancesSyncInput


def sync_all_recovery_instances(
    sync_input: dict[str, Any] | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Start the recovery-instance sync state machine (every active pair of every target account).

    The state machine is the sync: it plans, fans out one worker per pair, summarizes and records the
    status. This returns at once with the execution ARN.
    """
    return start_sync(SYNC, sync_input, settings or get_settings())


def start_wave_completion_sync(
    account_id: str,
    region: str,
    source_server_ids: list[str],
    execution_id: str,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Start a scoped run for one completed wave: its servers' recovery instances, tagged with the execution."""
    payload = {
        "accountId": account_id,
        "region": region,
        "sourceServerIDs": list(source_server_ids),
        "executionId": execution_id,
    }
    RecoveryInstancesSyncInput.model_validate(payload)  # fail here, not in the state machine's first state
    return sync_all_recovery_instances(payload, settings)
