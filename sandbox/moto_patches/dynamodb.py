"""DynamoDB: one request at a time, as a serializable database answers, and Query by partition, not by table.

``install_dynamodb_patches()`` makes three changes to moto 5.2.5's DynamoDB, neither of which changes an answer:

* **Requests are serialized.** moto's tables are plain dicts, and its Query and Scan iterate every item of
  the table while another thread's PutItem adds to it: under concurrent Lambdas a Query fails with
  ``RuntimeError: dictionary changed size during iteration``, an error DynamoDB never returns. One lock is
  held around every DynamoDB request (parse, operation and response), so each request sees the table
  between two others, never in the middle of one.
* **Reads answer in plain JSON.** Query, Scan, GetItem and BatchGetItem hold DynamoDB JSON already; it is
  written as it is instead of through moto's shape-walking serializer.
* **Query reads only the partition it names.** moto builds, sorts and walks a list of every item of the
  table for each page of every Query (O(table) per page). Its own filtering, ordering, paging, projection
  and size limits still run, on the items that can match: the partition's items for a table Query, and
  the items whose index partition key matches for an index Query (a per-table map from each index's
  partition value to its items, rebuilt after any write). Items are in no particular order before moto
  sorts them, which it does on a key that is unique, so the answer is the same.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .patching import installed_once, wrap_methods

__all__ = ["dynamodb_lock", "install_dynamodb_patches"]

# Actions that change no item: every other action (including ones added later) invalidates the index maps.
_READS = frozenset(
    {
        "BatchGetItem",
        "DescribeContinuousBackups",
        "DescribeEndpoints",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "ListTables",
        "ListTagsOfResource",
        "Query",
        "Scan",
        "TransactGetItems",
    }
)

# Reads whose answer is DynamoDB JSON already (items as moto stores them): written with json.dumps rather than
# walked attribute by attribute through the output shape (90 % of a large Query's time).
_PLAIN_JSON_READS = ("query", "scan", "get_item", "batch_get_item")

dynamodb_lock = threading.RLock()
_scope = threading.local()  # the candidate items of the Query this thread is running
_writes = [0]  # bumped by every write: the index maps are valid for one value of it


def _bump() -> None:
    _writes[0] += 1


@contextmanager
def _candidates(table: Any, items: list[Any]) -> Iterator[None]:
    _scope.table, _scope.items = table, items
    try:
        yield
    finally:
        _scope.table = _scope.items = None


def _partition_items(table: Any, hash_key: Any) -> list[Any]:
    """The items of one partition of the base table (get, not index: moto's items is a defaultdict)."""
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    return list(partition.values()) if table.range_key_attr else [partition]


def _index_items(table: Any, attribute: str, value: Any) -> list[Any]:
    """The items whose ``attribute`` equals ``value``, from a map rebuilt after any write to any table."""
    cached = table.__dict__.get("_sandbox_index_maps")
    if cached is None or cached[0] != _writes[0]:
        cached = (_writes[0], {})
        table.__dict__["_sandbox_index_maps"] = cached
    maps: dict[str, dict[Any, list[Any]]] = cached[1]
    if attribute not in maps:
        by_value: dict[Any, list[Any]] = {}
        for partition in table.items.values():
            for item in partition.values() if table.range_key_attr else [partition]:
                key = item.attrs.get(attribute)
                if key is not None:
                    by_value.setdefault(key, []).append(item)
        maps[attribute] = by_value
    return list(maps[attribute].get(value, []))


def _query_candidates(table: Any, hash_key: Any, index_name: str | None, conditions: Any) -> list[Any] | None:
    """The items a Query can match, or None to let moto walk the table (a shape this patch does not know)."""
    if not index_name:
        return _partition_items(table, hash_key) if hash_key is not None else None
    if not conditions:
        return None
    attribute, value = conditions[0]
    return _index_items(table, attribute, value)


@installed_once
def install_dynamodb_patches() -> Callable[[], None]:
    """Patch moto's DynamoDB (idempotent); returns a function that removes the patches."""
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    patches = [
        (DynamoHandler, "call_action", _serialized),
        (Table, "query", _partition_query),
        (Table, "all_items", _scoped_all_items),
        (Table, "put_item", _counted_write),
        (Table, "delete_item", _counted_write),
        *((DynamoHandler, action, _json_answer) for action in _PLAIN_JSON_READS),
    ]
    return wrap_methods(patches)


def _serialized(call_action: Callable[..., Any]) -> Callable[..., Any]:
    def serialized_call_action(self: Any) -> Any:
        with dynamodb_lock:
            try:
                return call_action(self)
            finally:
                if self._get_action() not in _READS:
                    _bump()

    return serialized_call_action


def _partition_query(query: Callable[..., Any]) -> Callable[..., Any]:
    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        with dynamodb_lock:
            items = _query_candidates(self, hash_key, index_name, kwargs.get("hash_key_conditions"))
            if items is None:
                return query(self, hash_key, *args, **kwargs)
            with _candidates(self, items):
                return query(self, hash_key, *args, **kwargs)

    return partition_query


def _scoped_all_items(all_items: Callable[..., Any]) -> Callable[..., Any]:
    def scoped_all_items(self: Any) -> list[Any]:
        if getattr(_scope, "table", None) is self:
            return list(_scope.items)
        return list(all_items(self))

    return scoped_all_items


def _blob(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def _json_answer(action: Callable[..., Any]) -> Callable[..., Any]:
    def json_answer(self: Any) -> Any:
        answer = action(self)
        result = getattr(answer, "result", None)
        if not isinstance(result, dict):
            return answer
        try:
            return json.dumps(result, default=_blob)
        except TypeError:  # a type only the serializer knows: let it answer
            return answer

    return json_answer


def _counted_write(write: Callable[..., Any]) -> Callable[..., Any]:
    """Writes made on the backend directly (the fleet's account rows) invalidate the index maps too."""

    def counted_write(self: Any, *args: Any, **kwargs: Any) -> Any:
        with dynamodb_lock:
            _bump()
            return write(self, *args, **kwargs)

    return counted_write
