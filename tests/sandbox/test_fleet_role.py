"""The shipped fleet role in every fleet account, enforced: the trust (principal, ExternalId, exactly the
product's roles) and every DRS and EC2 call with its credentials, by moto's IAM policy evaluation; and DRS's
terminate job acting with the caller's EC2 permissions."""

from __future__ import annotations

import copy
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from fleet_sync.syncs.recovery_instances.status import clear_status_cache
from fleet_sync.syncs.recovery_instances.terminate import terminate_recovery_instances
from sandbox import Sandbox
from sandbox.drs.jobs import JOB_SECONDS
from sandbox.stack import load_template

TARGET, DENIED = "111111111111", "222222222222"
REGION = "us-east-1"
ROLE = "DrsFleetSyncRole"
NO_EC2_FOR_DRS = {  # the shipped role without the EC2 grant DRS's terminate job needs
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["drs:Describe*", "drs:TerminateRecoveryInstances"], "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
    ],
}
FLEET = {
    "seed": 5,
    "accounts": [
        {"accountId": TARGET, "regions": {REGION: {"sourceServers": 4, "recoveryInstances": 2, "ec2Backed": 1.0}}},
        {
            "accountId": DENIED,
            "rolePolicy": NO_EC2_FOR_DRS,
            "regions": {REGION: {"sourceServers": 3, "recoveryInstances": 2, "ec2Backed": 1.0}},
        },
    ],
}


@pytest.fixture(scope="module")
def sb():
    clear_status_cache()
    with Sandbox(fleet=copy.deepcopy(FLEET)) as box:
        yield box
    clear_status_cache()


def external_id(sb, account):
    return next(r["externalId"] for r in sb.items("accounts") if r["accountId"] == account)


def assume(account, external_id=None, **keys):
    kwargs = {"RoleArn": f"arn:aws:iam::{account}:role/{ROLE}", "RoleSessionName": "test"}
    if external_id:
        kwargs["ExternalId"] = external_id
    creds = boto3.client("sts", region_name=REGION, **keys).assume_role(**kwargs)["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def hub_role_keys(sb, logical_id):
    """Credentials of one of the hub's function roles (as Lambda hands them to the function)."""
    from moto.iam.models import iam_backends

    iam = iam_backends[sb.account]["global"]
    role_name = sb.deployment.physical_id(f"{logical_id}Role").rsplit("/", 1)[-1]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{sb.account}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.update_assume_role_policy(role_name, json.dumps(trust))  # so the test can take the role's identity
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{sb.account}:role/{role_name}", RoleSessionName="as-the-function"
    )["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def test_every_fleet_account_has_the_shipped_role_with_the_hubs_parameters(sb):
    from moto.iam.models import iam_backends

    template = load_template("templates/cross-account-role.yaml")["Resources"]["FleetSyncRole"]["Properties"]
    trusted = sb.deployment.outputs["FleetRoleTrustedRoleArns"].split(",")
    assert len(trusted) == 5 and all(f":{sb.account}:role/" in arn for arn in trusted)
    for account in (TARGET, DENIED):
        role = iam_backends[account]["global"].get_role(ROLE)
        assume_role, tag_session = json.loads(role.assume_role_policy_document)["Statement"]
        assert tag_session["Action"] == "sts:TagSession"
        assert tag_session["Condition"]["StringEquals"] == {"aws:PrincipalArn": trusted}
        statement = assume_role
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{sb.account}:root"}
        assert statement["Condition"]["StringEquals"] == {
            "sts:ExternalId": external_id(sb, account),
            "aws:PrincipalArn": trusted,
        }
    (policy,) = template["Policies"]
    shipped = iam_backends[TARGET]["global"].get_role_policy(ROLE, policy["PolicyName"])[1]
    assert [s["Sid"] for s in json.loads(shipped)["Statement"]] == [
        s["Sid"] for s in policy["PolicyDocument"]["Statement"]
    ]
    assert external_id(sb, TARGET) != external_id(sb, DENIED)  # one per account


def test_assume_role_needs_the_external_id_and_one_of_exactly_the_products_roles(sb):
    ext = external_id(sb, TARGET)
    assert code(lambda: assume(TARGET)) == "AccessDenied"
    assert code(lambda: assume(TARGET, "not-it")) == "AccessDenied"
    assert code(lambda: assume(TARGET, external_id(sb, DENIED))) == "AccessDenied"
    assert code(lambda: assume(TARGET, ext, **hub_role_keys(sb, "QueryApiFunction"))) == "AccessDenied"
    assert code(lambda: assume(TARGET, ext, **hub_role_keys(sb, "DataManagementFunction"))) == "AccessDenied"
    assert assume(TARGET, ext, **hub_role_keys(sb, "ManageApiFunction"))["aws_session_token"]


def test_calls_with_the_fleet_role_are_allowed_only_by_its_policies(sb):
    creds = assume(TARGET, external_id(sb, TARGET))
    drs = boto3.client("drs", region_name=REGION, **creds)
    ec2 = boto3.client("ec2", region_name=REGION, **creds)
    servers = drs.describe_source_servers()["items"]
    assert len(servers) == 4 and ec2.describe_instances()["Reservations"]
    sid = servers[0]["sourceServerID"]
    assert code(lambda: drs.disconnect_source_server(sourceServerID=sid)) == "AccessDeniedException"
    assert code(lambda: drs.start_recovery(sourceServers=[{"sourceServerID": sid}])) == "AccessDeniedException"
    other_account_arn = servers[0]["arn"].replace(TARGET, DENIED)
    assert code(lambda: drs.tag_resource(resourceArn=other_account_arn, tags={"a": "b"})) == "AccessDeniedException"
    drs.tag_resource(resourceArn=servers[0]["arn"], tags={"a": "b"})  # this account's source servers: allowed
    (ri, *_) = drs.describe_recovery_instances()["items"]
    # the role grants ec2:TerminateInstances only through DRS
    denied = code(lambda: ec2.terminate_instances(InstanceIds=[ri["ec2InstanceID"]]))
    assert denied == "UnauthorizedOperation"
    job = drs.terminate_recovery_instances(recoveryInstanceIDs=[ri["recoveryInstanceID"]])["job"]
    sb.advance(JOB_SECONDS["TERMINATE"])
    (done,) = drs.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"]
    assert [p["launchStatus"] for p in done["participatingServers"]] == ["TERMINATED"]


def test_a_terminate_job_without_the_callers_ec2_permission_fails_and_the_rows_stay(sb):
    assert sb.run_sync("recovery-instances")["outcome"] == "complete"
    denied_rows = [r for r in sb.items("recovery-instances") if r["accountId"] == DENIED]
    assert len(denied_rows) == 2
    ids = [r["sourceServerID"] for r in denied_rows]
    first = terminate_recovery_instances(source_server_ids=ids)
    assert len(first["terminating"]) == 2 and first["failed"] == []  # DRS accepts the job
    sb.advance(JOB_SECONDS["TERMINATE"])
    second = terminate_recovery_instances(source_server_ids=ids)
    assert second["terminated"] == [] and len(second["failed"]) == 2
    assert {f["code"] for f in second["failed"]} == {"TerminateJobFailed"}
    assert all("ec2:TerminateInstances" in f["message"] for f in second["failed"])
    kept = {r["sourceServerID"]: r for r in sb.items("recovery-instances") if r["accountId"] == DENIED}
    assert set(kept) == set(ids) and {r["terminateStatus"] for r in kept.values()} == {"TERMINATE_FAILED"}
    # the next sync keeps the rows and the failure: DRS still has the instances
    sb.run_sync("recovery-instances")
    after = {r["sourceServerID"]: r for r in sb.items("recovery-instances") if r["accountId"] == DENIED}
    assert {r["terminateStatus"] for r in after.values()} == {"TERMINATE_FAILED"}
    assert all("ec2:TerminateInstances" in r["terminateError"] for r in after.values())


def test_a_sync_records_a_failed_terminate_job_it_finds(sb):
    rows = [r for r in sb.items("recovery-instances") if r["accountId"] == DENIED]
    ids = [r["sourceServerID"] for r in rows]
    assert len(terminate_recovery_instances(source_server_ids=ids)["terminating"]) == 2  # retried
    sb.advance(JOB_SECONDS["TERMINATE"])
    sb.run_sync("recovery-instances")  # the status read after the job, before any terminate call
    after = {r["sourceServerID"]: r for r in sb.items("recovery-instances") if r["accountId"] == DENIED}
    assert set(after) == set(ids) and {r["terminateStatus"] for r in after.values()} == {"TERMINATE_FAILED"}
