"""Patches that make moto 5.2.5 behave like AWS where the product depends on it, one module per service.

moto is pinned exactly (requirements-dev.txt): these reach into its internals.
"""

from collections.abc import Callable
from typing import Any

from .dynamodb import dynamodb_lock, install_dynamodb_patches
from .iam import install_role_enforcement, is_allowed
from .map_runs import children_of, install_map_run_children
from .service_faults import install_service_faults
from .stop import install_final_stop, is_stopped
from .sts import external_id_allowed, install_sts_external_id_check, trust_allows


def install_moto_patches(engine: Any) -> list[Callable[[], None]]:
    """Every patch a sandbox needs, in order; the undos, to be run last first. The fleet role is enforced
    (trust, ExternalId, its policies), DynamoDB is as strict as AWS, EC2 and STS answer the engine's faults,
    a map run's items are child executions and a stopped execution stays stopped."""
    undos = [install_sts_external_id_check(), install_role_enforcement(), install_dynamodb_patches()]
    undos.append(install_service_faults(engine))
    return [*undos, install_map_run_children(), install_final_stop()]


__all__ = [
    "children_of",
    "dynamodb_lock",
    "external_id_allowed",
    "install_dynamodb_patches",
    "install_final_stop",
    "install_map_run_children",
    "install_moto_patches",
    "install_role_enforcement",
    "install_service_faults",
    "install_sts_external_id_check",
    "is_allowed",
    "is_stopped",
    "trust_allows",
]
