"""The sandbox's DynamoDB under concurrent Lambdas: no request sees another one half done, and Query reads
its partition (table or index) only, with the answers moto gives without the patch."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from moto import mock_aws

from sandbox.moto_patches import install_dynamodb_patches

READERS = WRITERS = 10
ROWS_PER_WRITER = 30
READ_ROWS = 40
ROUNDS = int(os.environ.get("DYNAMODB_RACE_ROUNDS", "3"))  # 20 in a row when the patch changes


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        made = ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g", "gs")],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByG",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "gs", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        with made.batch_writer() as batch:
            for i in range(READ_ROWS):
                batch.put_item(Item={"pk": "read", "sk": f"{i:04}", "g": "read", "gs": f"{i:04}", "n": i})
        yield made


def all_pages(call: Any, **kwargs: Any) -> list[dict[str, Any]]:
    items, start = [], None
    while True:
        page = call(**kwargs, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def race(table: Any) -> list[BaseException]:
    """WRITERS threads add partitions while READERS threads query one partition, by table and by index,
    with the interpreter switching threads every few microseconds; the errors any thread met."""
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def writer(w: int) -> None:
        try:
            for i in range(ROWS_PER_WRITER):
                table.put_item(Item={"pk": f"w{w}-{i}", "sk": "0", "g": f"w{w}", "gs": f"{i:04}"})
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            while writing.is_set():
                by_table = all_pages(table.query, KeyConditionExpression=Key("pk").eq("read"), Limit=15)
                by_index = all_pages(table.query, IndexName="ByG", KeyConditionExpression=Key("g").eq("read"))
                assert [r["sk"] for r in by_table] == [r["gs"] for r in by_index] == [f"{i:04}" for i in range(40)]
                time.sleep(0.001)  # a lock is not fair: leave the writers a moment to take it
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    readers = [threading.Thread(target=reader) for _ in range(READERS)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join()
        writing.clear()
        for t in readers:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


def test_unpatched_moto_breaks_under_concurrent_writers_and_queries(table: Any) -> None:
    """The race is real: without the patch a query meets a table changing under it (within a few rounds)."""
    met: list[BaseException] = []
    for _ in range(5):
        met = race(table)
        if met:
            break
    assert any("changed size during iteration" in str(e) for e in met), met


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_patched_dynamodb_is_safe_for_concurrent_writers_and_queries(table: Any, round_: int) -> None:
    undo = install_dynamodb_patches()
    try:
        assert race(table) == []
        rows = all_pages(table.scan)
        assert len(rows) == READ_ROWS + WRITERS * ROWS_PER_WRITER
        for w in range(WRITERS):
            mine = all_pages(table.query, IndexName="ByG", KeyConditionExpression=Key("g").eq(f"w{w}"))
            assert [r["gs"] for r in mine] == [f"{i:04}" for i in range(ROWS_PER_WRITER)]
    finally:
        undo()


def move(table: Any, sk: str) -> None:
    table.update_item(
        Key={"pk": "read", "sk": sk}, UpdateExpression="SET g = :g", ExpressionAttributeValues={":g": "moved"}
    )


def test_patched_query_answers_as_moto_does(table: Any) -> None:
    """Paging both ways, range conditions, filters, projections and index queries, before and after an
    update that moves an item between index partitions (the index maps are rebuilt after a write)."""
    move(table, "0003")
    table.delete_item(Key={"pk": "read", "sk": "0005"})
    queries: list[dict[str, Any]] = [
        {"KeyConditionExpression": Key("pk").eq("read")},
        {"KeyConditionExpression": Key("pk").eq("read"), "Limit": 7, "ScanIndexForward": False},
        {"KeyConditionExpression": Key("pk").eq("read") & Key("sk").between("0010", "0020"), "Limit": 3},
        {"KeyConditionExpression": Key("pk").eq("read"), "FilterExpression": Attr("n").gt(30), "Limit": 4},
        {"KeyConditionExpression": Key("pk").eq("read"), "ProjectionExpression": "sk"},
        {"KeyConditionExpression": Key("pk").eq("nothing-here")},
        {"IndexName": "ByG", "KeyConditionExpression": Key("g").eq("read"), "Limit": 6},
        {"IndexName": "ByG", "KeyConditionExpression": Key("g").eq("moved")},
        {"IndexName": "ByG", "KeyConditionExpression": Key("g").eq("read") & Key("gs").begins_with("001")},
        {"IndexName": "ByG", "KeyConditionExpression": Key("g").eq("nothing-here")},
    ]
    before = [all_pages(table.query, **q) for q in queries]
    undo = install_dynamodb_patches()
    try:
        assert install_dynamodb_patches() is undo
        assert [all_pages(table.query, **q) for q in queries] == before
        move(table, "0004")
        moved = all_pages(table.query, IndexName="ByG", KeyConditionExpression=Key("g").eq("moved"))
        assert [r["sk"] for r in moved] == ["0003", "0004"]
        assert len(all_pages(table.query, IndexName="ByG", KeyConditionExpression=Key("g").eq("read"))) == READ_ROWS - 3
    finally:
        undo()


def test_patched_reads_answer_every_attribute_type_as_moto_does(table: Any) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")  # low level: the answers as sent
    item = {
        "pk": {"S": "types"},
        "sk": {"S": "1"},
        "n": {"N": "12.50"},
        "b": {"B": b"\x00\xffbytes"},
        "bs": {"BS": [b"a", b"b"]},
        "ns": {"NS": ["1", "2.5"]},
        "ss": {"SS": ["x", "y"]},
        "m": {"M": {"nested": {"L": [{"S": "v"}, {"NULL": True}, {"BOOL": False}]}}},
    }
    client.put_item(TableName="t", Item=item)
    key = {"pk": {"S": "types"}, "sk": {"S": "1"}}
    NO = {"S": "no"}

    def answers() -> list[Any]:
        got = [
            client.get_item(TableName="t", Key=key),
            client.batch_get_item(RequestItems={"t": {"Keys": [key]}}),
            client.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": item["pk"]}),
            client.scan(TableName="t", Limit=3),
            client.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": NO}),
        ]
        return [{k: v for k, v in a.items() if k != "ResponseMetadata"} for a in got]

    before = answers()
    undo = install_dynamodb_patches()
    try:
        assert answers() == before
        assert before[0]["Item"] == item
    finally:
        undo()
