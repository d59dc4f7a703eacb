"""One page of the inventory for the API: regions in order, each read through the same index
`InventoryStore.query` picks, resumed from an opaque token.

The token carries the regions of the whole query (so later pages keep the region set of the first even when
the active set changes meanwhile), the region being read and the DynamoDB key to start after (the last row
returned, with its index keys), plus a fingerprint of the query: a token is only accepted with the filters
and requested regions it was issued for, and its DynamoDB key must lie inside the query it continues (a
forged key is refused here, not by DynamoDB with a 500). Reads only: an unfiltered page asks DynamoDB for the
rows it still needs; a filtered page reads ahead, at most MAX_QUERIES_PER_PAGE Queries, and may then hold
fewer rows than asked, with a nextToken to go on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ...core.ids import SOURCE_SERVER_ID
from ...core.tables import INVENTORY, Index, account_region, to_plain
from .store import region_query

READ_AHEAD = 200  # rows asked of DynamoDB per Query when a FilterExpression may drop many of them
MAX_QUERIES_PER_PAGE = 8  # a filter that matches little must not turn one API call into many reads
TOKEN_VERSION = 1


class InvalidPageToken(ValueError):
    """A nextToken that this query did not issue, or that is not a token at all."""


@dataclass
class Cursor:
    """Where a page starts: the regions of the whole query, the one being read, the key to start after."""

    regions: list[str]
    index: int = 0
    key: dict[str, str] | None = None


@dataclass
class InventoryPage:
    servers: list[dict[str, Any]]
    next_token: str | None
    regions: list[str]
    queries: int


def fingerprint(filters: dict[str, Any], requested_regions: list[str] | None) -> str:
    """What a token is bound to: the filters and the regions the caller named (None: the active set then)."""
    wanted = sorted(set(requested_regions)) if requested_regions is not None else None
    text = json.dumps({"regions": wanted, "filters": _clean(filters)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _clean(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in filters.items() if v not in (None, "", [])}


def encode_token(query: str, cursor: Cursor) -> str:
    raw = json.dumps(
        {"v": TOKEN_VERSION, "q": query, "g": cursor.regions, "r": cursor.index, "k": cursor.key},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_token(token: str, filters: dict[str, Any], requested_regions: list[str] | None) -> Cursor:
    """The cursor a token holds, checked against the query it claims to continue (no I/O)."""
    invalid = InvalidPageToken("not a token this API issued")
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("v") != TOKEN_VERSION:
        raise invalid
    if data.get("q") != fingerprint(filters, requested_regions):
        raise InvalidPageToken("this token belongs to a query with other regions or filters")
    regions, index, key = data.get("g"), data.get("r"), data.get("k")
    if not isinstance(regions, list) or not regions or not all(isinstance(r, str) for r in regions):
        raise invalid
    if regions != sorted(set(regions)):
        raise invalid
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(regions):
        raise invalid
    if key is not None:
        expected = set(_key_names(region_query(regions[index], _clean(filters)).index))
        if not isinstance(key, dict) or set(key) != expected or not all(isinstance(v, str) for v in key.values()):
            raise invalid
        if not _key_in_query(key, regions[index], _clean(filters)):
            raise InvalidPageToken("this token's position is not inside the query it continues")
    return Cursor(regions, index, key)


def _key_in_query(key: dict[str, str], region: str, filters: dict[str, Any]) -> bool:
    """Whether a start key could have been returned by this region's Query: DynamoDB refuses one outside the
    key condition (ValidationException), which must be the caller's 400, never our 500."""
    for name, value in key.items():
        if name == "replicationRegion":
            ok = value == region
        elif name == "accountRegion":
            wanted = filters.get("accountId")
            pattern = re.escape(account_region(wanted, region)) if wanted else rf"\d{{12}}#{re.escape(region)}"
            ok = re.fullmatch(pattern, value) is not None
        elif name == "sourceServerID":
            ok = re.fullmatch(SOURCE_SERVER_ID, value) is not None
        else:
            ok = name in filters and value == str(filters[name])
        if not ok:
            return False
    return True


def _key_names(index: Index | None) -> tuple[str, ...]:
    """The attributes of a LastEvaluatedKey: the table's keys, and the index's when one is read."""
    return tuple(dict.fromkeys((*INVENTORY.key_names, *(index.key_names if index else ()))))


def _key_of(row: dict[str, Any], index: Index | None) -> dict[str, str]:
    return {k: str(row[k]) for k in _key_names(index)}


def _query(table: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        return table.query(**kwargs)  # type: ignore[no-any-return]
    except ClientError as exc:  # DynamoDB refusing the start key: the token's fault, not ours
        if "ExclusiveStartKey" in kwargs and exc.response.get("Error", {}).get("Code") == "ValidationException":
            raise InvalidPageToken("this token's position is not inside the query it continues") from None
        raise


def read_page(
    table: Any,
    filters: dict[str, Any],
    *,
    limit: int,
    cursor: Cursor,
    requested_regions: list[str] | None = None,
) -> InventoryPage:
    """Up to `limit` rows of the cursor's regions (region by region), from where the cursor points."""
    filters = _clean(filters)
    query = fingerprint(filters, requested_regions)
    regions = sorted(set(cursor.regions))
    index, start = cursor.index, cursor.key
    out: list[dict[str, Any]] = []
    queries = 0

    def page(index: int, key: dict[str, Any] | None) -> InventoryPage:
        token = encode_token(query, Cursor(regions, index, key)) if index < len(regions) else None
        return InventoryPage(out, token, regions, queries)

    while index < len(regions):
        if queries == MAX_QUERIES_PER_PAGE:  # resume where the reads stopped
            return page(index, {k: str(v) for k, v in start.items()} if start else None)
        read = region_query(regions[index], filters)
        kwargs = dict(read.kwargs)
        room = limit - len(out)
        kwargs["Limit"] = max(READ_AHEAD, room) if "FilterExpression" in kwargs else room
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = _query(table, kwargs)
        queries += 1
        rows = [to_plain(r) for r in response.get("Items", [])]
        if len(rows) > room:  # stop inside this DynamoDB page: resume after the last row returned
            out.extend(rows[:room])
            return page(index, _key_of(out[-1], read.index))
        out.extend(rows)
        start = response.get("LastEvaluatedKey")
        if start is None:
            index += 1
        if len(out) == limit:
            return page(index, {k: str(v) for k, v in start.items()} if start else None)
    return page(index, None)
