"""Patches that make moto 5.2.5 behave like AWS where the product depends on it, one module per service.

moto is pinned exactly (requirements-dev.txt): these reach into its internals.
"""

from .dynamodb import dynamodb_lock, install_dynamodb_patches
from .executions import install_execution_names
from .iam import install_role_enforcement, is_allowed
from .map_runs import children_of, install_map_run_children
from .service_faults import install_service_faults
from .sts import external_id_allowed, install_sts_external_id_check, trust_allows

__all__ = [
    "children_of",
    "dynamodb_lock",
    "external_id_allowed",
    "install_dynamodb_patches",
    "install_execution_names",
    "install_map_run_children",
    "install_role_enforcement",
    "install_service_faults",
    "install_sts_external_id_check",
    "is_allowed",
    "trust_allows",
]
