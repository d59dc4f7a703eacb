"""Patches that make moto 5.2.5 behave like AWS where the product depends on it, one module per service.

moto is pinned exactly (requirements-dev.txt): these reach into its internals.
"""

from .dynamodb import dynamodb_lock, install_dynamodb_patches
from .sts import external_id_allowed, install_sts_external_id_check

__all__ = ["dynamodb_lock", "external_id_allowed", "install_dynamodb_patches", "install_sts_external_id_check"]
