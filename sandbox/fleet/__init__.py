"""Fleet files: a whole DRS estate (accounts, regions, servers, EC2, roles, faults) from one YAML file.

``load_fleet`` validates a fleet (strictly: unknown or bad fields raise :class:`FleetError` naming the
field); ``apply_fleet`` seeds it, deterministically from ``seed``, into a :class:`~sandbox.drs.DrsEngine`
and into moto (EC2 instances, IAM roles, the accounts table); ``add_source_servers`` adds servers later,
as newly installed agents would. The format is documented in docs/fleet.md.

Modules: :mod:`.schema` (the models), :mod:`.load` (reading and cross-field rules), :mod:`.generate`
(generated servers and their EC2 instances), :mod:`.apply` (seeding), :mod:`.accounts` (IAM roles and
the accounts table).
"""

from .accounts import accounts_rows, ensure_role, external_id_of
from .apply import DEFAULT_STACK_ACCOUNT, add_source_servers, apply_fleet
from .load import load_fleet
from .schema import AccountSpec, Fleet, FleetError, RegionSpec

__all__ = [
    "DEFAULT_STACK_ACCOUNT",
    "AccountSpec",
    "Fleet",
    "FleetError",
    "RegionSpec",
    "accounts_rows",
    "add_source_servers",
    "apply_fleet",
    "ensure_role",
    "external_id_of",
    "load_fleet",
]
