"""Short names of a deployed stack's tables and state machines, derived from its template (docs/design.md).

- A table is called after the Globals environment variable that names it (`RECOVERY_INSTANCES_TABLE` ->
  `recovery-instances`: the name the code uses), else after its logical id without `Table`, in kebab case.
- A sync is its state machine's `SyncName` substitution: every sync's state machine has one. A state machine
  without one (a test fixture's) is called after its logical id without `StateMachine`, in kebab case.
Both also answer to their logical id, a state machine to its physical name too.
"""

from __future__ import annotations

import re
from typing import Any

from .stack import Deployment

# The syncs in the order the demo runs them; others the template defines follow alphabetically.
SYNC_ORDER = ("inventory", "tags", "staging", "recovery-instances")


class UnknownName(KeyError):
    """A name the stack does not define; the message lists the ones it does."""

    def __str__(self) -> str:
        return str(self.args[0])


def kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def globals_environment(sam: dict[str, Any]) -> dict[str, Any]:
    """Globals.Function.Environment.Variables of a SAM template, as written."""
    function = (sam.get("Globals") or {}).get("Function") or {}
    return (function.get("Environment") or {}).get("Variables") or {}


class StackNames:
    """Short name -> physical name (tables) or ARN (state machines) of one deployment."""

    def __init__(self, deployment: Deployment) -> None:
        self.tables = self._table_names(deployment)
        self._table_aliases = dict(self.tables)
        for lid, res in deployment.of_type("AWS::DynamoDB::Table").items():
            self._table_aliases[lid] = res.physical_id
        self.state_machines: dict[str, str] = {}
        self._machine_aliases: dict[str, str] = {}
        synced = []
        for lid, res in deployment.of_type("AWS::StepFunctions::StateMachine").items():
            sync = (res.attributes.get("DefinitionSubstitutions") or {}).get("SyncName")
            short = str(sync) if sync else kebab(lid.removesuffix("StateMachine")) or lid.lower()
            synced += [short] if sync else []
            self.state_machines[short] = res.physical_id
            for alias in (short, lid, str(res.attributes["Name"])):
                self._machine_aliases[alias] = res.physical_id
        self.syncs = sorted(synced, key=lambda s: (SYNC_ORDER.index(s) if s in SYNC_ORDER else len(SYNC_ORDER), s))

    @staticmethod
    def _table_names(deployment: Deployment) -> dict[str, str]:
        tables = deployment.of_type("AWS::DynamoDB::Table")
        by_variable = {
            value["Ref"]: variable
            for variable, value in globals_environment(deployment.translated.sam).items()
            if isinstance(value, dict) and value.get("Ref") in tables
        }
        names = {}
        for lid, res in sorted(tables.items()):
            variable = by_variable.get(lid)
            if variable:
                short = variable.removesuffix("_TABLE").lower().replace("_", "-")
            else:
                short = kebab(lid.removesuffix("Table")) or lid.lower()
            names[short] = res.physical_id
        return dict(sorted(names.items()))

    def table_name(self, table: str) -> str:
        try:
            return self._table_aliases[table]
        except KeyError:
            known = ", ".join(self.tables) or "none"
            raise UnknownName(f"unknown table {table!r}; this template defines: {known}") from None

    def state_machine_arn(self, sync: str) -> str:
        try:
            return self._machine_aliases[sync]
        except KeyError:
            known = ", ".join(sorted(self.state_machines)) or "none"
            raise UnknownName(f"unknown sync {sync!r}; this template defines: {known}") from None

    def sync_name(self, sync_or_arn: str) -> str:
        """The short name of a state machine given any of its names or its ARN."""
        arn = sync_or_arn if sync_or_arn.startswith("arn:") else self.state_machine_arn(sync_or_arn)
        for short, machine in self.state_machines.items():
            if machine == arn:
                return short
        raise UnknownName(f"no state machine {sync_or_arn!r} in this stack")
