"""Per-region and per-server configuration: InitializeService, replication configuration templates, and each
server's replication and launch configuration."""

from __future__ import annotations

import copy

from .errors import DrsError
from .paging import page
from .specs import Json
from .state import Ctx, Operation, RegionState

__all__ = ["OPERATIONS"]

_NAME_MAX = 128


def initialize_service(ctx: Ctx, p: Json) -> None:
    ctx.state.initialize()


def describe_replication_configuration_templates(ctx: Ctx, p: Json) -> Json:
    templates = ctx.state.templates
    rows = list(templates.values())
    wanted = p.get("replicationConfigurationTemplateIDs")
    if wanted:
        missing = sorted(set(wanted) - set(templates.rows))
        if missing:
            raise DrsError(
                "ResourceNotFoundException",
                f"Replication configuration template {missing[0]} not found",
                resourceId=missing[0],
                resourceType="REPLICATION_CONFIGURATION_TEMPLATE",
            )
        rows = [t for t in rows if t["replicationConfigurationTemplateID"] in set(wanted)]
    return page(ctx, templates, rows, p, key="replicationConfigurationTemplateID")


def get_replication_configuration(ctx: Ctx, p: Json) -> Json:
    s = ctx.state.server(p["sourceServerID"])
    config = ctx.state.replication_configs[s["sourceServerID"]]
    return {
        "sourceServerID": s["sourceServerID"],
        "name": s["sourceProperties"]["identificationHints"].get("hostname", "")[:_NAME_MAX],
        **config,
    }


def get_launch_configuration(ctx: Ctx, p: Json) -> Json:
    s = ctx.state.server(p["sourceServerID"])
    return _launch_configuration(ctx.state, s)


def update_launch_configuration(ctx: Ctx, p: Json) -> Json:
    s = ctx.state.server(p["sourceServerID"])
    config = ctx.state.launch_configs[s["sourceServerID"]]
    for k, v in p.items():
        if k != "sourceServerID":
            config[k] = copy.deepcopy(v)
    return _launch_configuration(ctx.state, s)


def _launch_configuration(st: RegionState, s: Json) -> Json:
    config = st.launch_configs[s["sourceServerID"]]
    name = config.get("name") or s["sourceProperties"]["identificationHints"].get("hostname", "")
    return {
        "sourceServerID": s["sourceServerID"],
        "name": name[:_NAME_MAX],
        **{k: v for k, v in config.items() if k != "name"},
    }


OPERATIONS: dict[str, Operation] = {
    "InitializeService": initialize_service,
    "DescribeReplicationConfigurationTemplates": describe_replication_configuration_templates,
    "GetReplicationConfiguration": get_replication_configuration,
    "GetLaunchConfiguration": get_launch_configuration,
    "UpdateLaunchConfiguration": update_launch_configuration,
}
