"""Typed settings read from the environment the template sets (Globals.Function.Environment).

Every handler builds its Settings once per invocation; a missing variable fails at once, naming it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .tables import Table


class SettingsError(RuntimeError):
    """The function's environment lacks a variable or holds a bad value."""


class Settings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    stack_name: str = Field(alias="STACK_NAME", min_length=1)
    accounts_table: str = Field(alias="ACCOUNTS_TABLE", min_length=1)
    region_status_table: str = Field(alias="REGION_STATUS_TABLE", min_length=1)
    inventory_table: str = Field(alias="INVENTORY_TABLE", min_length=1)
    sync_state_table: str = Field(alias="SYNC_STATE_TABLE", min_length=1)
    recovery_instances_table: str = Field(alias="RECOVERY_INSTANCES_TABLE", min_length=1)
    staging_extensions_table: str = Field(alias="STAGING_EXTENSIONS_TABLE", min_length=1)
    plan_bucket: str = Field(alias="PLAN_BUCKET", min_length=1)
    execution_history_table: str = Field(alias="EXECUTION_HISTORY_TABLE", default="")
    execution_history_index: str = Field(alias="EXECUTION_HISTORY_INDEX", default="ByJobId")
    tag_provenance: bool = Field(alias="TAG_PROVENANCE", default=True)
    metrics_namespace: str = Field(alias="POWERTOOLS_METRICS_NAMESPACE", default="DRSFleetSync")
    drs_regions: str = Field(alias="DRS_REGIONS", default="")
    region_filtering: bool = Field(alias="REGION_FILTERING", default=True)
    discovery_age_hours: float = Field(alias="DISCOVERY_AGE_HOURS", default=6, gt=0)
    region_cache_ttl_seconds: int = Field(alias="REGION_CACHE_TTL_SECONDS", default=60, ge=0)
    inventory_fresh_minutes: int = Field(alias="INVENTORY_FRESH_MINUTES", default=15, gt=0)
    recovery_instances_sync_rate_minutes: int = Field(alias="RECOVERY_INSTANCES_SYNC_RATE_MINUTES", default=5, gt=0)
    cross_account_role_name: str = Field(alias="CROSS_ACCOUNT_ROLE_NAME", default="DrsFleetSyncRole")
    event_debounce_seconds: int = Field(alias="EVENT_DEBOUNCE_SECONDS", default=60, ge=1)

    def table_name(self, table: Table) -> str:
        """The deployed name of a product table (its settings field is its env var, lower-cased)."""
        name: str = getattr(self, table.env_var.lower())
        return name


def env_names() -> set[str]:
    """Every environment variable the settings read (the template drift guard checks them)."""
    return {f.alias for f in Settings.model_fields.values() if f.alias}


def get_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values = {name: env[name] for name in env_names() if name in env}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{err['loc'][0]}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"bad or missing environment: {problems}") from exc
