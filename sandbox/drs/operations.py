"""The implemented DRS operations by name: each module contributes the operations on what it owns."""

from __future__ import annotations

from . import configuration, jobs, recovery, servers, staging, tagging
from .state import Operation

__all__ = ["IMPLEMENTED_OPERATIONS", "OPERATIONS"]

OPERATIONS: dict[str, Operation] = {
    **servers.OPERATIONS,
    **recovery.OPERATIONS,
    **jobs.OPERATIONS,
    **staging.OPERATIONS,
    **tagging.OPERATIONS,
    **configuration.OPERATIONS,
}
IMPLEMENTED_OPERATIONS = tuple(sorted(OPERATIONS))
