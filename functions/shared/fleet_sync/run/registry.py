"""The registry of syncs: each sync's spec by name, and the name of its state machine.

A new sync adds its `syncs/<name>/spec.py` and one entry here (docs/design.md, "Adding a sync").
"""

from __future__ import annotations

from ..core.errors import InvalidSyncInput
from ..syncs.inventory.spec import SPEC as INVENTORY
from ..syncs.recovery_instances.spec import SPEC as RECOVERY_INSTANCES
from ..syncs.staging.spec import SPEC as STAGING
from ..syncs.tags.spec import SPEC as TAGS
from .spec import SyncSpec

SYNCS: dict[str, SyncSpec] = {spec.name: spec for spec in (INVENTORY, TAGS, STAGING, RECOVERY_INSTANCES)}


def sync_spec(name: str) -> SyncSpec:
    try:
        return SYNCS[name]
    except KeyError:
        raise InvalidSyncInput(f"unknown sync {name!r}; known: {', '.join(SYNCS)}") from None


def state_machine_name(stack_name: str, sync: str) -> str:
    """The name of a sync's state machine in a stack (template.yaml names every one `{stack}-{sync}-sync`)."""
    return f"{stack_name}-{sync_spec(sync).name}-sync"
