"""Pages and ``nextToken``: opaque keyset positions, bound to the operation that issued them."""

from __future__ import annotations

import base64
import binascii

from .errors import DrsError
from .specs import Json
from .state import Ctx, Table

__all__ = ["decode_token", "encode_token", "page"]


def page(
    ctx: Ctx,
    table: Table,
    rows: list[Json],
    params: Json,
    *,
    key: str,
    model_max: int | None = None,
) -> Json:
    """``{"items": [...], "nextToken": ...}``: the page of ``rows`` (a view of ``table``) after ``nextToken``."""
    default = ctx.estate.default_page_size
    size = params.get("maxResults") or min(default, model_max or default)
    after = decode_token(ctx.operation, params.get("nextToken"))
    if after is not None:
        rows = [r for r in rows if table.seq.get(r[key], -1) > after]
    chosen = rows[:size]
    out: Json = {"items": chosen}
    if len(rows) > size:
        out["nextToken"] = encode_token(ctx.operation, table.seq[chosen[-1][key]])
    return out


def encode_token(operation: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{operation}:{position}".encode()).decode()


def decode_token(operation: str, token: str | None) -> int | None:
    """The position in ``token``; a token of another operation or garbage is a ``ValidationException``."""
    if not token:
        return None
    try:
        op, _, position = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if op != operation:
            raise ValueError(op)
        return int(position)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise DrsError(
            "ValidationException",
            "Invalid nextToken",
            reason="fieldValidationFailed",
            fieldList=[{"name": "nextToken", "message": "The pagination token is not valid for this request"}],
        ) from None
