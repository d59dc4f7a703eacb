"""Whose EC2 the inventory and tag syncs may read, and what a failed EC2 read may never do (on the sandbox).

- a server's `originAccountID` is whatever its agent reported: the origin's EC2 is read only when that account
  is registered, enabled and lists the server's DRS account in `allowedDrsAccounts`; otherwise enrichment is
  skipped and named (`OriginNotTrusted`), in the inventory and in the tag sync;
- a failed EC2 read keeps each row's last known EC2 fields, and the summary counts and names it.
"""

import copy

import boto3
import pytest

from sandbox import Sandbox

REGION = "us-east-1"
DRS, ORIGIN = "111111111111", "444444444444"
EC2_FIELDS = ("ec2InstanceType", "privateIp", "subnetId", "vpcId", "ec2Tags")
PARAMS = {"DrsRegions": REGION}


def fleet(origin_row: dict | None) -> dict:
    """DRS's servers all claim EC2 instances of ORIGIN; ORIGIN registered with `origin_row` (None: unregistered)."""
    origin = {"accountId": ORIGIN, "kind": "target", "externalId": "ext-origin", **(origin_row or {})}
    if origin_row is None:
        origin["registered"] = False
    return {
        "seed": 21,
        "accounts": [
            {
                "accountId": DRS,
                "kind": "target",
                "regions": {REGION: {"sourceServers": 4, "ec2Backed": 1.0, "originAccountId": ORIGIN}},
            },
            origin,
        ],
    }


def drs_rows(sb):
    return [r for r in sb.items("inventory") if r["accountId"] == DRS]


def set_account_field(sb, account_id, **fields):
    table = boto3.resource("dynamodb", region_name=REGION).Table(sb.table_name("accounts"))
    for name, value in fields.items():
        table.update_item(
            Key={"accountId": account_id},
            UpdateExpression="SET #f = :v",
            ExpressionAttributeNames={"#f": name},
            ExpressionAttributeValues={":v": value},
        )


@pytest.mark.parametrize(
    "origin_row",
    [None, {}, {"allowedDrsAccounts": ["999999999999"]}, {"allowedDrsAccounts": [DRS], "enabled": False}],
    ids=["unregistered", "allows-nobody", "allows-another", "disabled"],
)
def test_an_origin_that_does_not_allow_the_drs_account_is_never_read(origin_row):
    with Sandbox(fleet=fleet(origin_row), parameters=PARAMS) as sb:
        summary = sb.run_sync("inventory")
        rows = drs_rows(sb)
        assert len(rows) == 4 and all(r["sourceAccountId"] == ORIGIN for r in rows)
        # no IP, subnet or tag of the other account's instances lands in this account's rows
        assert not [f for r in rows for f in EC2_FIELDS if f in r]
        assert summary["originsNotTrusted"] == 1 and summary["ec2ReadFailures"] == 0
        [warning] = summary["enrichmentWarnings"]
        assert f"{DRS}/{REGION}" in warning and "OriginNotTrusted" in warning and ORIGIN in warning
        # ... nor onto its DRS servers by the tag sync
        tags = sb.run_sync("tags")
        assert tags["skipped"].get("originNotTrusted") == 4 and tags["serversTagged"] == 0
        drs = sb.client("drs", account=DRS, region=REGION)
        for server in drs.describe_source_servers()["items"]:
            assert not any(k.startswith("source:") for k in server.get("tags") or {})


def test_an_origin_that_allows_the_drs_account_enriches_it():
    with Sandbox(fleet=fleet({"allowedDrsAccounts": [DRS]}), parameters=PARAMS) as sb:
        summary = sb.run_sync("inventory")
        assert all(r.get("ec2InstanceType") and r.get("privateIp") for r in drs_rows(sb))
        assert summary["originsNotTrusted"] == 0 and summary["enrichmentWarnings"] == []
        tags = sb.run_sync("tags")
        assert tags["serversTagged"] == 4


def test_an_origin_lets_the_drs_account_read_its_ec2_through_the_accounts_api():
    with Sandbox(fleet=fleet({}), parameters=PARAMS) as sb:
        assert sb.run_sync("inventory")["originsNotTrusted"] == 1
        # When the origin's operator lets the DRS account read its EC2 (PATCH, as the API's callers do)
        status, answer = sb.api("PATCH", f"/accounts/targets/{ORIGIN}", body={"allowedDrsAccounts": [DRS]})
        assert status == 200 and answer["allowedDrsAccounts"] == [DRS]
        # Then the next run enriches the DRS account's rows from the origin's instances
        summary = sb.run_sync("inventory")
        assert summary["originsNotTrusted"] == 0 and summary["enrichmentWarnings"] == []
        assert all(r.get("ec2InstanceType") and r.get("privateIp") for r in drs_rows(sb))
        # ... and once it takes that back, the origin is not read again
        status, _ = sb.api("PATCH", f"/accounts/targets/{ORIGIN}", body={"allowedDrsAccounts": None})
        assert status == 200
        assert sb.run_sync("inventory")["originsNotTrusted"] == 1


def test_a_failed_ec2_read_keeps_the_last_known_ec2_fields_and_says_so():
    with Sandbox(fleet=copy.deepcopy(fleet({"allowedDrsAccounts": [DRS]})), parameters=PARAMS) as sb:
        sb.run_sync("inventory")
        before = {r["sourceServerID"]: {f: r.get(f) for f in EC2_FIELDS} for r in drs_rows(sb)}
        assert all(all(v is not None for v in fields.values()) for fields in before.values())
        # When the origin's role can no longer be assumed (its ExternalId changed: STS denies the hub)
        set_account_field(sb, ORIGIN, externalId="ext-rotated-elsewhere")
        summary = sb.run_sync("inventory")
        # Then every row keeps its EC2 fields, and the run counts and names the failure
        after = {r["sourceServerID"]: {f: r.get(f) for f in EC2_FIELDS} for r in drs_rows(sb)}
        assert after == before
        assert summary["ec2ReadFailures"] == 1
        [warning] = summary["enrichmentWarnings"]
        assert f"{DRS}/{REGION}" in warning and "AccessDenied" in warning
        # and a DRS change of the same rows still goes through (only the EC2 fields were carried over)
        assert summary["outcome"] == "complete"
