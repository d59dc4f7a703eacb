"""Tags on DRS resources: TagResource, UntagResource and ListTagsForResource, addressed by ARN."""

from __future__ import annotations

from . import ids
from .errors import DrsError
from .specs import Json
from .state import Ctx, Operation, Table

__all__ = ["OPERATIONS"]


def _table(ctx: Ctx, resource_type: str) -> Table | None:
    """The caller's table for an ARN's resource type (the taggable resources of DRS)."""
    st = ctx.state
    return {
        "source-server": st.servers,
        "recovery-instance": st.recovery_instances,
        "job": st.jobs,
        "replication-configuration-template": st.templates,
    }.get(resource_type)


def _resource(ctx: Ctx, arn: str) -> Json:
    """The caller's resource behind ``arn``; an ARN of another account or region is not found."""
    parsed = ids.parse_arn(arn)
    row = None
    if parsed and parsed.account == ctx.account and parsed.region == ctx.region:
        table = _table(ctx, parsed.resource_type)
        row = table.get(parsed.resource_id) if table is not None else None
    if row is None:
        raise DrsError("ResourceNotFoundException", f"Resource {arn} not found", resourceId=arn)
    return row


def tag_resource(ctx: Ctx, p: Json) -> None:
    reserved = sorted(k for k in p["tags"] if k.lower().startswith("aws:"))
    if reserved:
        raise DrsError(
            "ValidationException",
            f"Tag keys starting with 'aws:' are reserved: {', '.join(reserved)}",
            reason="fieldValidationFailed",
            fieldList=[{"name": "tags", "message": f"reserved tag key {k}"} for k in reserved],
        )
    row = _resource(ctx, p["resourceArn"])
    row.setdefault("tags", {}).update(p["tags"])


def untag_resource(ctx: Ctx, p: Json) -> None:
    row = _resource(ctx, p["resourceArn"])
    for k in p["tagKeys"]:
        row.get("tags", {}).pop(k, None)


def list_tags_for_resource(ctx: Ctx, p: Json) -> Json:
    return {"tags": dict(_resource(ctx, p["resourceArn"]).get("tags", {}))}


OPERATIONS: dict[str, Operation] = {
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
