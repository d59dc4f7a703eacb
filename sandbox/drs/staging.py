"""Staging accounts and extended source servers: trust, ListStagingAccounts, ListExtensibleSourceServers and
CreateExtendedSourceServer."""

from __future__ import annotations

import copy

from . import ids
from .errors import DrsError
from .paging import decode_token, encode_token, page
from .servers import register_server
from .specs import Json
from .state import Ctx, Estate, Operation, RegionState

__all__ = ["OPERATIONS", "REPLICATING_QUOTA_CODE", "extend", "staging_account_of"]

REPLICATING_QUOTA_CODE = "L-DRS-SIM-REPLICATING-SERVERS"  # simulator's code; DRS quota codes are not published
_STAGING_PAGE_SIZE = 50


def extend(estate: Estate, st: RegionState, arn: str, tags: dict[str, str], *, enforce_quota: bool) -> Json:
    """Copy the staging server ``arn`` into ``st`` as an EXTENDED source server (seeding skips the quota)."""
    parsed, src = _extensible_source(estate, st, arn)
    if enforce_quota and st.replicating_count() >= estate.max_replicating_servers:
        raise DrsError(
            "ServiceQuotaExceededException",
            f"Extending would exceed the quota of {estate.max_replicating_servers} replicating source servers in "
            f"account {st.account} ({st.region})",
            resourceId=parsed.resource_id,
            resourceType="SOURCE_SERVER",
            serviceCode="drs",
            quotaCode=REPLICATING_QUOTA_CODE,
        )
    sid = ids.source_server_id(st.rng)
    server = copy.deepcopy({k: v for k, v in src.items() if k not in ("recoveryInstanceId", "tags")})
    server.update(
        {
            "sourceServerID": sid,
            "arn": st.arn("source-server", sid),
            "tags": dict(tags),
            "lastLaunchResult": "NOT_STARTED",
            "stagingArea": {"status": "EXTENDED", "stagingAccountID": parsed.account, "stagingSourceServerArn": arn},
        }
    )
    server["lifeCycle"].pop("lastLaunch", None)
    server["lifeCycle"]["addedToServiceDateTime"] = ids.iso_now()
    register_server(st, server)
    estate.extensions.setdefault(arn, set()).add((st.account, st.region, sid))
    return server


def _extensible_source(estate: Estate, st: RegionState, arn: str) -> tuple[ids.Arn, Json]:
    """The staging server behind ``arn``, after every check DRS makes before extending it into ``st``."""
    parsed = ids.parse_arn(arn)
    if parsed is None or parsed.resource_type != "source-server":
        raise DrsError(
            "ValidationException",
            f"Invalid source server ARN: {arn}",
            reason="fieldValidationFailed",
            fieldList=[{"name": "sourceServerArn", "message": "Not a DRS source server ARN"}],
        )
    if parsed.region != st.region:
        raise DrsError(
            "ValidationException",
            f"Source server {parsed.resource_id} is in {parsed.region}; it can only be extended into the same "
            f"region ({st.region})",
            reason="other",
        )
    if parsed.account == st.account:
        raise DrsError("ValidationException", "Cannot extend a source server into its own account", reason="other")
    estate.check_trust(st.account, parsed.account)
    staging_state = estate.existing(parsed.account, st.region)
    src = staging_state.servers.get(parsed.resource_id) if staging_state is not None else None
    if src is None:
        raise DrsError(
            "ResourceNotFoundException",
            f"Source server {arn} not found",
            resourceId=parsed.resource_id,
            resourceType="SOURCE_SERVER",
        )
    if src["stagingArea"].get("status") == "EXTENDED":
        raise DrsError("ValidationException", "An extended source server cannot be extended again", reason="other")
    if estate.extended_into(arn, st.account, st.region):
        raise DrsError(
            "ValidationException", f"Source server {arn} is already extended into this account", reason="other"
        )
    return parsed, src


def staging_account_of(operation: str, params: Json) -> str | None:
    """The staging account a request names (what a fault's ``stagingAccountId`` matches)."""
    if operation == "ListExtensibleSourceServers":
        value = params.get("stagingAccountID")
        return value if isinstance(value, str) else None
    if operation == "CreateExtendedSourceServer" and isinstance(params.get("sourceServerArn"), str):
        parsed = ids.parse_arn(params["sourceServerArn"])
        return parsed.account if parsed else None
    return None


# ------------------------------------------------------------------------------------ operations
def list_staging_accounts(ctx: Ctx, p: Json) -> Json:
    """The staging accounts the caller trusts, plus those its extended servers come from."""
    accounts = set(ctx.estate.trust.get(ctx.account, ()))
    accounts.update(
        s["stagingArea"]["stagingAccountID"]
        for s in ctx.state.servers.values()
        if s["stagingArea"].get("status") == "EXTENDED"
    )
    rows = [{"accountID": a} for a in sorted(accounts)]
    size = p.get("maxResults") or _STAGING_PAGE_SIZE
    after = decode_token(ctx.operation, p.get("nextToken")) or 0
    out: Json = {"accounts": rows[after : after + size]}
    if after + size < len(rows):
        out["nextToken"] = encode_token(ctx.operation, after + size)
    return out


def list_extensible_source_servers(ctx: Ctx, p: Json) -> Json:
    staging = p["stagingAccountID"]
    ctx.estate.check_trust(ctx.account, staging)
    staging_state = ctx.estate.existing(staging, ctx.region)
    if staging_state is None:
        return {"items": []}
    rows = [
        s
        for s in staging_state.servers.values()
        if s["stagingArea"].get("status") != "EXTENDED"
        and s.get("replicationDirection", "FAILOVER") == "FAILOVER"
        and s["dataReplicationInfo"]["dataReplicationState"] != "DISCONNECTED"
        and not ctx.estate.extended_into(s["arn"], ctx.account, ctx.region)
    ]
    out = page(ctx, staging_state.servers, rows, p, key="sourceServerID", model_max=300)
    out["items"] = [_extensible_item(s) for s in out["items"]]
    return out


def _extensible_item(s: Json) -> Json:
    return {
        "hostname": s["sourceProperties"]["identificationHints"].get("hostname", ""),
        "arn": s["arn"],
        "tags": dict(s.get("tags", {})),
    }


def create_extended_source_server(ctx: Ctx, p: Json) -> Json:
    server = extend(ctx.estate, ctx.state, p["sourceServerArn"], p.get("tags") or {}, enforce_quota=True)
    return {"sourceServer": server}


OPERATIONS: dict[str, Operation] = {
    "ListStagingAccounts": list_staging_accounts,
    "ListExtensibleSourceServers": list_extensible_source_servers,
    "CreateExtendedSourceServer": create_extended_source_server,
}
