"""The simulator inside moto: mock_aws interception, moto server routing by SigV4 scope, accounts from
AssumeRole credentials, moto EC2 behind recovery instances, resets, and the STS ExternalId patch."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from sandbox.drs import ServerSpec, register_with_moto
from sandbox.drs.jobs import JOB_SECONDS
from sandbox.moto_patches import external_id_allowed, install_sts_external_id_check

TARGET, OTHER = "111111111111", "222222222222"


def test_register_is_idempotent_and_returns_the_process_engine():
    assert register_with_moto() is register_with_moto()


def test_accounts_are_isolated_through_assume_role(sim, drs, seed_servers):
    seed_servers(TARGET, n=3)
    seed_servers(OTHER, n=5)
    assert len(drs(TARGET).describe_source_servers()["items"]) == 3
    assert len(drs(OTHER).describe_source_servers()["items"]) == 5
    assert drs("999999999999").describe_source_servers()["items"] == []
    default = boto3.client("drs", region_name="us-east-1")  # moto's default account
    assert default.describe_source_servers()["items"] == []
    assert {c["accountId"] for c in sim.counters_snapshot()["calls"]} == {TARGET, OTHER, "999999999999", "123456789012"}


def test_recovery_instances_are_moto_ec2_instances(sim, drs, seed_servers, credentials, manual_clock):
    (sid,) = seed_servers(TARGET, n=1)
    c = drs(TARGET)
    c.tag_resource(resourceArn=c.describe_source_servers()["items"][0]["arn"], tags={"App": "billing"})
    c.update_launch_configuration(sourceServerID=sid, copyTags=True)
    job = c.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=True)["job"]
    manual_clock.advance(JOB_SECONDS["LAUNCH"])
    (job,) = c.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"]
    rid = job["participatingServers"][0]["recoveryInstanceID"]
    ec2 = boto3.client("ec2", region_name="us-east-1", **credentials(TARGET))
    (instance,) = ec2.describe_instances(InstanceIds=[rid])["Reservations"][0]["Instances"]
    assert instance["State"]["Name"] == "running"
    assert {t["Key"]: t["Value"] for t in instance["Tags"]} == {"Name": "host-00000", "App": "billing"}
    (ri,) = c.describe_recovery_instances()["items"]
    assert ri["recoveryInstanceProperties"]["networkInterfaces"][0]["ips"] == [instance["PrivateIpAddress"]]
    c.terminate_recovery_instances(recoveryInstanceIDs=[rid])
    (instance,) = ec2.describe_instances(InstanceIds=[rid])["Reservations"][0]["Instances"]
    assert instance["State"]["Name"] == "running"  # until the terminate job has done its work
    manual_clock.advance(JOB_SECONDS["TERMINATE"])
    assert c.describe_recovery_instances()["items"] == []
    (instance,) = ec2.describe_instances(InstanceIds=[rid])["Reservations"][0]["Instances"]
    assert instance["State"]["Name"] == "terminated"


def test_a_moto_reset_resets_the_simulator(seed_servers, sim):
    seed_servers(TARGET, n=2)
    sim.set_faults([{"latencyMs": 1}])
    with mock_aws():  # nested: no reset
        assert len(sim.source_servers(TARGET, "us-east-1")) == 2
    from moto.core.base_backend import BackendDict

    BackendDict.reset()
    assert sim.source_servers(TARGET, "us-east-1") == [] and sim.faults == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_moto_server_serves_drs_next_to_sts_and_ec2():
    engine = register_with_moto()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        base = {
            "endpoint_url": endpoint,
            "region_name": "eu-west-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        creds = boto3.client("sts", **base).assume_role(
            RoleArn=f"arn:aws:iam::{TARGET}:role/Sync", RoleSessionName="server-test"
        )["Credentials"]
        as_target = {
            **base,
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        sid = engine.create_source_server(TARGET, "eu-west-1", ServerSpec(hostname="db-01"))
        c = boto3.client("drs", **as_target)
        (server_item,) = c.describe_source_servers()["items"]
        assert server_item["sourceServerID"] == sid
        c.tag_resource(resourceArn=server_item["arn"], tags={"Env": "prod"})  # percent-encoded ARN path
        assert c.list_tags_for_resource(resourceArn=server_item["arn"])["tags"] == {"Env": "prod"}
        c.untag_resource(resourceArn=server_item["arn"], tagKeys=["Env"])
        assert c.list_staging_accounts()["accounts"] == []  # GET with query string
        assert boto3.client("drs", **base).describe_source_servers()["items"] == []  # default account
        assert boto3.client("ec2", **as_target).describe_instances()["Reservations"] == []
        with pytest.raises(ClientError) as e:
            c.describe_source_servers(maxResults=1001)
        assert e.value.response["fieldList"][0]["name"] == "maxResults"
    finally:
        server.stop()
        engine.reset()


def role_trust_policy(stack_account, external_id):
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{stack_account}:root"},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def create_role(account, name, trust_policy):
    """A role in moto's IAM of `account`, trusting as `trust_policy` says (made in moto directly: the test
    checks STS's answers, not IAM's API)."""
    from moto.iam.models import iam_backends

    iam_backends[account]["global"].create_role(
        role_name=name,
        assume_role_policy_document=json.dumps(trust_policy),
        path="/",
        permissions_boundary=None,
        description="",
        tags=[],
        max_session_duration=None,
    )


def test_sts_external_id_check_denies_and_allows(sim):
    for name, external_id in (("WithExternalId", "ext-prod"), ("Plain", None)):
        create_role(TARGET, name, role_trust_policy("123456789012", external_id))
    sts = boto3.client("sts", region_name="us-east-1")

    def assume(role, external_id=None):
        kwargs = {"RoleArn": f"arn:aws:iam::{TARGET}:role/{role}", "RoleSessionName": "check"}
        if external_id:
            kwargs["ExternalId"] = external_id
        return sts.assume_role(**kwargs)["Credentials"]

    assert assume("Missing")  # unpatched moto hands out credentials for any role
    undo = install_sts_external_id_check()
    try:
        assert install_sts_external_id_check() is undo
        assert assume("WithExternalId", "ext-prod")["AccessKeyId"].startswith("ASIA")
        assert assume("Plain") and assume("Plain", "anything")
        for role, external_id in (("WithExternalId", None), ("WithExternalId", "wrong"), ("Missing", None)):
            with pytest.raises(ClientError) as e:
                assume(role, external_id)
            r = e.value.response
            assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
            assert f"arn:aws:iam::{TARGET}:role/{role}" in r["Error"]["Message"]
    finally:
        undo()
    assert assume("Missing")


@pytest.mark.parametrize(
    ("condition", "external_id", "allowed"),
    [
        ({"StringEquals": {"sts:ExternalId": ["a", "b"]}}, "b", True),
        ({"StringEquals": {"sts:ExternalId": "a"}}, "c", False),
        ({"StringLike": {"sts:ExternalId": "team-*"}}, "team-7", True),
        ({"StringLike": {"sts:ExternalId": "team-*"}}, None, False),
        ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, None, True),
    ],
)
def test_external_id_conditions(condition, external_id, allowed):
    policy = {"Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole"], "Condition": condition}]}
    assert external_id_allowed(policy, external_id) is allowed
    assert external_id_allowed({"Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole"}]}, None) is False


def test_session_tags_need_the_trust_to_allow_tag_session(sim):
    from sandbox.moto_patches.sts import session_tags_allowed

    only_assume = role_trust_policy("123456789012", None)
    tagging = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sts:TagSession",
        "Condition": {
            "ForAllValues:StringEquals": {"aws:TagKeys": ["drs-fleet-sync:sync", "drs-fleet-sync:execution"]}
        },
    }
    with_tagging = {**only_assume, "Statement": [*only_assume["Statement"], tagging]}
    for name, trust in (("Tagging", with_tagging), ("NoTagging", only_assume)):
        create_role(TARGET, name, trust)
    sts = boto3.client("sts", region_name="us-east-1")

    def assume(role, tags):
        arn = f"arn:aws:iam::{TARGET}:role/{role}"
        return sts.assume_role(RoleArn=arn, RoleSessionName="check", Tags=tags)["Credentials"]

    ours = [{"Key": "drs-fleet-sync:sync", "Value": "inventory"}, {"Key": "drs-fleet-sync:execution", "Value": "e-1"}]
    undo = install_sts_external_id_check()
    try:
        assert assume("Tagging", ours)["AccessKeyId"].startswith("ASIA")
        assert assume("NoTagging", [])  # no tags: no sts:TagSession needed
        for role, tags in (("NoTagging", ours), ("Tagging", [{"Key": "other", "Value": "x"}])):
            with pytest.raises(ClientError) as e:
                assume(role, tags)
            assert e.value.response["Error"]["Code"] == "AccessDenied"
            assert "sts:TagSession" in e.value.response["Error"]["Message"]
    finally:
        undo()
    assert session_tags_allowed({"Statement": [{"Effect": "Allow", "Action": "sts:TagSession"}]}, ["any"])
