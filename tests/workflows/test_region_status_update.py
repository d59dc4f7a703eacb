"""Update region status writes many pairs at once, each with its own UpdateItem: every pair gets its run's
outcome and keeps every attribute another sync wrote (a whole-item write would drop them)."""

import json

import boto3

from sandbox import Sandbox

PAIRS = 300
RUN_ID = "many-pairs"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def pairs():
    return [(f"{100000000000 + i // len(REGIONS):012d}", REGIONS[i % len(REGIONS)]) for i in range(PAIRS)]


def result(i, account, region):
    """Every tenth pair denied, every seventh known empty, the others available with i % 5 servers."""
    base = {"pk": f"run#{RUN_ID}", "sk": f"item#{account}#{region}", "accountId": account, "region": region}
    if i % 10 == 0:
        return {**base, "status": "ACCESS_DENIED", "ok": False, "errorCode": "AccessDeniedException"}
    if i % 7 == 0:
        return {**base, "status": "UNINITIALIZED", "ok": True, "serverCount": 0, "errorCode": "UninitializedAccount"}
    return {**base, "status": "AVAILABLE", "ok": True, "serverCount": i % 5, "replicatingCount": 0}


def seed(sb, sync_outcome):
    ddb = boto3.resource("dynamodb", region_name="us-east-1")
    with ddb.Table(sb.table_name("sync-state")).batch_writer() as batch:
        for i, (account, region) in enumerate(pairs()):
            batch.put_item(Item=result(i, account, region))
    with ddb.Table(sb.table_name("region-status")).batch_writer() as batch:
        for account, region in pairs():
            batch.put_item(
                Item={
                    "accountId": account,
                    "region": region,
                    "status": "AVAILABLE",
                    "serverCount": 9,
                    "lastChecked": "2026-01-01T00:00:00Z",
                    sync_outcome: {"status": "AVAILABLE", "checkedAt": "2026-01-01T00:00:00Z"},
                }
            )


def update(sb, sync):
    run = {"sync": sync, "runId": RUN_ID, "executionArn": "arn:aws:states:us-east-1:123456789012:execution:x:y"}
    response = sb.client("lambda").invoke(
        FunctionName=sb.function_name("UpdateRegionStatusFunction"),
        Payload=json.dumps({"run": {**run, "decision": "discovery", "workItemCount": PAIRS}}),
    )
    answer = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    return answer, {(r["accountId"], r["region"]): r for r in sb.items("region-status")}


def test_the_inventory_writes_every_pair_and_keeps_the_other_syncs_outcomes():
    with Sandbox() as sb:
        seed(sb, "tagsOutcome")
        answer, rows = update(sb, "inventory")
        assert answer == {"pairsUpdated": PAIRS}
        assert len(rows) == PAIRS
        for i, pair in enumerate(pairs()):
            row = rows[pair]
            assert row["tagsOutcome"] == {"status": "AVAILABLE", "checkedAt": "2026-01-01T00:00:00Z"}, pair
            assert row["lastChecked"] != "2026-01-01T00:00:00Z", pair
            expected = result(i, *pair)
            assert row["status"] == expected["status"], pair
            # a denied pair keeps its last known count; the others hold what the run saw
            assert row["serverCount"] == (9 if not expected["ok"] else expected["serverCount"]), pair


def test_another_sync_writes_its_own_outcome_on_every_pair_and_moves_no_clock():
    with Sandbox() as sb:
        seed(sb, "recoveryInstancesOutcome")
        answer, rows = update(sb, "tags")
        assert answer == {"pairsUpdated": PAIRS}  # every pair has a row the outcome can go on
        for i, pair in enumerate(pairs()):
            row, expected = rows[pair], result(i, *pair)
            assert row["recoveryInstancesOutcome"]["checkedAt"] == "2026-01-01T00:00:00Z", pair
            assert row["tagsOutcome"]["status"] == expected["status"], pair
            if expected["status"] == "UNINITIALIZED":  # DRS's own answer: the pair's status too
                assert row["status"] == "UNINITIALIZED" and row["serverCount"] == 0, pair
            else:  # the inventory's clock and counts stand
                assert row["lastChecked"] == "2026-01-01T00:00:00Z" and row["serverCount"] == 9, pair
