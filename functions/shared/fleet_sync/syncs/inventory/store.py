"""The inventory table: one row per source server, written with its failback topology kept.

Rows are keyed by the DRS account and region holding the server (`accountRegion`) and the server id, so two
accounts can never overwrite each other. The original replication topology (`originalSourceRegion`,
`originalAccountId`, `originalReplicationConfigTemplateId`) is captured when a server is first seen and is
written with `if_not_exists` on every write path, so neither a scheduled sync nor a fallback write can lose
it. Rows of servers that left DRS are removed only within the pair just scanned, and only when that scan
succeeded. Queries go through an index, never a Scan.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from ...core.clock import iso, utc_now
from ...core.tables import (
    INVENTORY,
    INVENTORY_BY_REGION,
    INVENTORY_BY_REPLICATION_STATE,
    INVENTORY_BY_SOURCE_ACCOUNT,
    INVENTORY_BY_SOURCE_SERVER,
    INVENTORY_BY_STAGING_ACCOUNT,
    Index,
    account_region,
    query_all,
    to_dynamo,
)

TOPOLOGY_FIELDS = (
    "originalSourceRegion",
    "originalAccountId",
    "originalReplicationConfigTemplateId",
    "topologyLastUpdated",
)
# Bookkeeping written by us, not read from DRS: never a reason to rewrite a row.
# `tagsWrittenAt`: when the tag sync last wrote `sourceTags` through; a scan read before it never replaces them.
BOOKKEEPING_FIELDS = (*TOPOLOGY_FIELDS, "lastUpdated", "firstSeen", "tagsWrittenAt", *INVENTORY.key_names)
WRITE_THREADS = 8
# The filters that pick an index (in this order of preference); a filter on `accountId` reads its pair's
# partition of the table itself.
FILTER_INDEXES = (
    ("sourceAccountId", INVENTORY_BY_SOURCE_ACCOUNT),
    ("stagingAccountId", INVENTORY_BY_STAGING_ACCOUNT),
    ("replicationState", INVENTORY_BY_REPLICATION_STATE),
)


@dataclass
class WriteStats:
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    topology_inherited: int = 0


def _arn_parts(arn: str | None) -> tuple[str, str, str] | None:
    """arn:PARTITION:drs:REGION:ACCOUNT:source-server/ID -> (region, account, id)."""
    if not arn:
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or "/" not in parts[5]:
        return None
    return parts[3], parts[4], parts[5].split("/", 1)[1]


def _content(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in BOOKKEEPING_FIELDS}


@dataclass(frozen=True)
class RegionQuery:
    """How one region of an inventory query is read: the Query's arguments, and the filters its key used."""

    kwargs: dict[str, Any]
    used: frozenset[str]

    @property
    def index(self) -> Index | None:
        name = self.kwargs.get("IndexName")
        return next((i for i in INVENTORY.indexes if i.name == name), None)


def region_query(region: str, filters: dict[str, Any]) -> RegionQuery:
    """The index (or the table's pair partition) that reads one region under these filters, and a
    FilterExpression for the filters the key does not cover."""
    if "accountId" in filters:
        query = RegionQuery(
            {"KeyConditionExpression": INVENTORY.partition(account_region(filters["accountId"], region))},
            frozenset({"accountId"}),
        )
    else:
        attr, index = next(((a, i) for a, i in FILTER_INDEXES if a in filters), (None, INVENTORY_BY_REGION))
        condition = Key("replicationRegion").eq(region)
        if attr is not None:
            condition = Key(attr).eq(filters[attr]) & condition
        query = RegionQuery(
            {"IndexName": index.name, "KeyConditionExpression": condition}, frozenset([attr] if attr else [])
        )
    rest = _filter_expression({k: v for k, v in filters.items() if k not in query.used})
    if rest is not None:
        query.kwargs["FilterExpression"] = rest
    return query


def _filter_expression(filters: dict[str, Any]) -> Any:
    cond = None
    for attr, value in sorted(filters.items()):
        part = Attr(attr).contains(value) if attr == "hostname" else Attr(attr).eq(value)
        cond = part if cond is None else cond & part
    return cond


@dataclass
class InventoryStore:
    table: Any

    # ---- reads
    def pair_rows(self, account_id: str, region: str) -> dict[str, dict[str, Any]]:
        items = query_all(self.table, KeyConditionExpression=INVENTORY.partition(account_region(account_id, region)))
        return {item["sourceServerID"]: item for item in items}

    def rows_by_server_id(self, server_id: str) -> list[dict[str, Any]]:
        return query_all(
            self.table,
            IndexName=INVENTORY_BY_SOURCE_SERVER.name,
            KeyConditionExpression=Key(INVENTORY_BY_SOURCE_SERVER.partition_key).eq(server_id),
        )

    def query(self, regions: list[str], filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of the given regions through an index (never a Scan), narrowed by the filters."""
        filters = {k: v for k, v in (filters or {}).items() if v not in (None, "", [])}
        out: list[dict[str, Any]] = []
        for region in sorted(set(regions)):
            out.extend(query_all(self.table, **region_query(region, filters).kwargs))
        return sorted(out, key=lambda r: (r.get("replicationRegion"), r.get("accountId"), r.get("sourceServerID")))

    # ---- topology
    def topology_for(
        self, record: dict[str, Any], existing: dict[str, Any] | None, template_id: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Original topology for a record: kept from its row, inherited from the server it reverses or was
        extended from, else captured now. Returns (fields, inherited)."""
        if existing and existing.get("originalSourceRegion"):
            return {k: existing[k] for k in TOPOLOGY_FIELDS if k in existing}, False
        linked = None
        if record.get("replicationDirection") == "FAILBACK" and record.get("reversedDirectionSourceServerArn"):
            linked = record["reversedDirectionSourceServerArn"]
        elif record.get("isExtended") and (record.get("stagingArea") or {}).get("stagingSourceServerArn"):
            linked = record["stagingArea"]["stagingSourceServerArn"]
        if linked and (parts := _arn_parts(linked)):
            return self._inherited(*parts), True
        return {
            "originalSourceRegion": record["replicationRegion"],
            "originalAccountId": record.get("stagingAccountId") or record["accountId"],
            "originalReplicationConfigTemplateId": template_id,
            "topologyLastUpdated": iso(utc_now()),
        }, False

    def _inherited(self, region: str, account: str, server_id: str) -> dict[str, Any]:
        for row in self.rows_by_server_id(server_id):
            if row.get("originalSourceRegion") and row.get("accountId") == account:
                return {k: row[k] for k in TOPOLOGY_FIELDS if k in row}
        # Not inventoried yet: the linked server's ARN still names where replication was configured.
        return {"originalSourceRegion": region, "originalAccountId": account, "topologyLastUpdated": iso(utc_now())}

    # ---- writes
    def write_records(
        self,
        records: list[dict[str, Any]],
        existing: dict[str, dict[str, Any]],
        template_ids: dict[str, str | None] | None = None,
        *,
        scanned_at: str | None = None,
    ) -> WriteStats:
        """Write the records that changed; an existing row's original topology is only ever set where absent.

        Rows seen for the first time go in batches of 25 (their topology is captured or inherited here; two
        writers racing on a first sight capture the same values). Rows that exist are updated one by one
        with `if_not_exists` on the topology, so no write path can replace it. Given `scanned_at` (when the
        scan read DRS), tags the tag sync wrote through after it are kept.
        """
        stats = WriteStats()
        now = iso(utc_now())
        new: list[dict[str, Any]] = []
        changed: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for rec in records:
            old = existing.get(rec["sourceServerID"])
            if old is None:
                new.append(rec)
            elif _content(old) == _content(rec) and old.get("originalSourceRegion"):
                stats.unchanged += 1
            else:
                changed.append((rec, old))

        def topology(rec: dict[str, Any], old: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
            template_id = (template_ids or {}).get(rec["accountRegion"], rec.get("replicationConfigTemplateId"))
            return self.topology_for(rec, old, template_id)

        with self.table.batch_writer() as batch:
            for rec in new:
                fields, inherited = topology(rec, None)
                kept = {k: v for k, v in fields.items() if v is not None}
                batch.put_item(Item=to_dynamo({**rec, **kept, "lastUpdated": now, "firstSeen": now}))
                stats.written += 1
                stats.topology_inherited += int(inherited)

        def update(pair: tuple[dict[str, Any], dict[str, Any]]) -> bool:
            rec, old = pair
            fields, inherited = topology(rec, old)
            self._update_unless_newer_tags(rec, old, fields, now, scanned_at)
            return inherited

        with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
            for inherited in pool.map(update, changed):
                stats.written += 1
                stats.topology_inherited += int(inherited)
        return stats

    def _update_unless_newer_tags(
        self, rec: dict[str, Any], old: dict[str, Any], topology: dict[str, Any], now: str, scanned_at: str | None
    ) -> None:
        """Update a row; its `sourceTags` only if the tag sync did not write them after this scan read DRS."""
        if scanned_at is None:
            self._update(rec, old, topology, now)
            return
        try:
            self._update(rec, old, topology, now, tags_older_than=scanned_at)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            without_tags = {k: v for k, v in rec.items() if k != "sourceTags"}
            self._update(without_tags, {k: v for k, v in old.items() if k != "sourceTags"}, topology, now)

    def _update(
        self,
        rec: dict[str, Any],
        old: dict[str, Any],
        topology: dict[str, Any],
        now: str,
        *,
        tags_older_than: str | None = None,
    ) -> None:
        primary = INVENTORY.key(rec["accountRegion"], rec["sourceServerID"])
        names: dict[str, str] = {"#lu": "lastUpdated", "#fs": "firstSeen"}
        values: dict[str, Any] = {":now": now}
        sets: list[str] = []
        for i, (k, v) in enumerate(sorted(rec.items())):
            if k not in primary:
                names[f"#a{i}"], values[f":a{i}"] = k, v
                sets.append(f"#a{i} = :a{i}")
        for i, (k, v) in enumerate(sorted(topology.items())):
            if v is not None:
                names[f"#t{i}"], values[f":t{i}"] = k, v
                sets.append(f"#t{i} = if_not_exists(#t{i}, :t{i})")
        sets += ["#lu = :now", "#fs = if_not_exists(#fs, :now)"]
        gone = sorted(set(old) - set(rec) - set(BOOKKEEPING_FIELDS))
        names.update({f"#r{i}": k for i, k in enumerate(gone)})
        removes = [f"#r{i}" for i in range(len(gone))]
        condition: dict[str, Any] = {}
        if tags_older_than is not None:
            names["#tw"], values[":scan"] = "tagsWrittenAt", tags_older_than
            condition["ConditionExpression"] = "attribute_not_exists(#tw) OR #tw < :scan"
        self.table.update_item(
            Key=primary,
            UpdateExpression="SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_dynamo(values),
            **condition,
        )

    def delete_missing(
        self,
        account_id: str,
        region: str,
        seen: set[str],
        existing: dict[str, dict[str, Any]],
        *,
        scanned_at: str | None = None,
    ) -> int:
        """Remove rows of this exact pair whose servers the (successful) scan no longer saw.

        Given `scanned_at` (when the scan read DRS), a row another scan of the pair wrote after that is kept:
        two runs may scan one pair at once (a scoped run a DRS event started beside a scheduled run), and the
        older reading must not delete a server the newer one found.
        """
        deleted = 0
        for sid in sorted(s for s in existing if s not in seen):
            kw: dict[str, Any] = {"Key": INVENTORY.key(account_region(account_id, region), sid)}
            if scanned_at is not None:
                kw["ConditionExpression"] = "attribute_not_exists(lastUpdated) OR lastUpdated < :scan"
                kw["ExpressionAttributeValues"] = {":scan": scanned_at}
            try:
                self.table.delete_item(**kw)
                deleted += 1
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        return deleted

    def write_tags(self, account_id: str, region: str, server_id: str, tags: dict[str, str]) -> None:
        """A server's new tags written through to its row: `sourceTags` only, and only if the row exists."""
        try:
            self.table.update_item(
                Key=INVENTORY.key(account_region(account_id, region), server_id),
                UpdateExpression="SET sourceTags = :t, tagsWrittenAt = :now",
                ConditionExpression=f"attribute_exists({INVENTORY.sort_key})",
                ExpressionAttributeValues={":t": tags, ":now": iso(utc_now())},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
