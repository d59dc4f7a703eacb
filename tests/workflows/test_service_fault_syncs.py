"""What the inventory does when EC2 or STS fails (the fleet's `"service": "ec2" | "sts"` faults, on the sandbox).

- a denied EC2 read keeps each row's last known EC2 fields, is counted in `ec2ReadFailures` and named in
  `enrichmentWarnings`, and fails no pair; one throttled past every retry hands its pair back whole (named in
  `errors`, its rows kept), so a later run reads it;
- STS refusing one account's role fails that account's pairs, each named in `errors`, with their rows kept;
  every other account is synced as usual.
"""

import botocore.exceptions
import pytest

from sandbox import Sandbox

REGION = "us-east-1"
DRS, ORIGIN, OTHER = "111111111111", "444444444444", "555555555555"
EC2_FIELDS = ("ec2InstanceType", "privateIp", "subnetId", "vpcId", "ec2Tags")
PARAMS = {"DrsRegions": REGION}
FLEET = {
    "seed": 23,
    "accounts": [
        {
            "accountId": DRS,
            "kind": "target",
            "regions": {REGION: {"sourceServers": 3, "ec2Backed": 1.0, "originAccountId": ORIGIN}},
        },
        {"accountId": ORIGIN, "kind": "target", "externalId": "ext-origin", "allowedDrsAccounts": [DRS]},
        {"accountId": OTHER, "kind": "target", "regions": {REGION: {"sourceServers": 2}}},
    ],
}


def rows_of(sb, account):
    return {r["sourceServerID"]: r for r in sb.items("inventory") if r["accountId"] == account}


def ec2_fields(rows):
    return {sid: {f: r.get(f) for f in EC2_FIELDS} for sid, r in rows.items()}


def test_a_denied_ec2_read_keeps_the_ec2_fields_counts_it_and_fails_no_pair():
    with Sandbox(fleet=FLEET, parameters=PARAMS) as sb:
        sb.run_sync("inventory")
        before = ec2_fields(rows_of(sb, DRS))
        assert all(all(v is not None for v in fields.values()) for fields in before.values())
        sb.set_faults([{"service": "ec2", "accountId": ORIGIN, "region": REGION, "accessDenied": True}])
        added = sb.add_source_servers(OTHER, REGION, 1)
        summary = sb.run_sync("inventory")
        assert ec2_fields(rows_of(sb, DRS)) == before
        assert summary["ec2ReadFailures"] == 1
        [warning] = summary["enrichmentWarnings"]
        assert f"{DRS}/{REGION}" in warning and "UnauthorizedOperation" in warning
        assert summary["errors"] == [] and summary["outcome"] == "complete"
        assert set(added) <= set(rows_of(sb, OTHER))  # the other pair was synced as usual


def test_an_ec2_read_throttled_past_every_retry_fails_its_pair_whole_and_keeps_its_rows():
    with Sandbox(fleet=FLEET, parameters=PARAMS) as sb:
        sb.run_sync("inventory")
        before = rows_of(sb, DRS)
        sb.set_faults([{"service": "ec2", "accountId": ORIGIN, "region": REGION, "throttleTps": 1e-6, "burst": 1}])
        sb.client("ec2", account=ORIGIN, region=REGION).describe_instances()  # another caller spent the budget
        sb.add_source_servers(DRS, REGION, 1)
        added = sb.add_source_servers(OTHER, REGION, 1)
        summary = sb.run_sync("inventory")
        # the pair is handed back whole (its DRS change waits too), named with the throttling
        assert rows_of(sb, DRS) == before
        [error] = summary["errors"]
        assert (error["accountId"], error["region"], error["code"]) == (DRS, REGION, "RegionScanThrottled")
        assert "Request limit exceeded" in error["message"]
        assert set(added) <= set(rows_of(sb, OTHER))


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        ({"accessDenied": True}, "AccessDenied"),
        ({"throttleTps": 1e-6, "burst": 1}, "RegionScanThrottled"),
        ({"error": "RegionDisabledException"}, "RegionDisabledException"),
    ],
    ids=["denied", "throttled", "region-disabled"],
)
def test_sts_refusing_one_accounts_role_fails_only_its_pairs_and_keeps_their_rows(fault, named):
    with Sandbox(fleet=FLEET, parameters=PARAMS) as sb:
        sb.run_sync("inventory")
        before = rows_of(sb, DRS)
        sb.set_faults([{"service": "sts", "accountId": DRS, "operation": "AssumeRole", **fault}])
        if "throttleTps" in fault:  # another caller spent the budget (the trust refuses it; the call still counts)
            role = f"arn:aws:iam::{DRS}:role/{sb.cross_account_role_name}"
            with pytest.raises(botocore.exceptions.ClientError):
                sb.client("sts").assume_role(RoleArn=role, RoleSessionName="other-caller")
        sb.add_source_servers(DRS, REGION, 2)
        added = sb.add_source_servers(OTHER, REGION, 1)
        summary = sb.run_sync("inventory")
        assert rows_of(sb, DRS) == before
        [error] = summary["errors"]
        assert (error["accountId"], error["region"]) == (DRS, REGION)
        assert named in f"{error['code']}: {error['message']}", error
        assert set(added) <= set(rows_of(sb, OTHER))
        status = {(r["accountId"], r["region"]): r for r in sb.items("region-status")}
        assert status[(DRS, REGION)]["serverCount"] == 3 and status[(OTHER, REGION)]["serverCount"] == 3
