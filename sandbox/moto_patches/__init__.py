"""Patches that make moto 5.2.5 behave like AWS where the product depends on it, one module per service.

moto is pinned exactly (requirements-dev.txt): these reach into its internals.
"""

from .map_runs import children_of, install_map_run_children
from .sts import external_id_allowed, install_sts_external_id_check

__all__ = ["children_of", "external_id_allowed", "install_map_run_children", "install_sts_external_id_check"]
