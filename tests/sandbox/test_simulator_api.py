"""DRS simulator conformance: routes, status codes, output shapes, paging and server-side validation,
all through real boto3 clients under ``mock_aws()``."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sandbox.drs import IMPLEMENTED_OPERATIONS, ServerSpec
from sandbox.drs.jobs import JOB_SECONDS
from sandbox.drs.shapes import UNMODELLED_MAX_RESULTS, operation_names

TARGET, STAGING = "111111111111", "333333333333"


def _ec2_server(sim, account=TARGET, region="us-east-1", **kw):
    spec = ServerSpec(hostname=kw.pop("hostname", "web-01"), aws_instance_id="i-0123456789abcdef0", **kw)
    return sim.create_source_server(account, region, spec)


def _finished(c, job, clock):
    """The job once its time on the clock has passed (jobs are asynchronous)."""
    clock.advance(JOB_SECONDS[job["type"]])
    (done,) = c.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"]
    assert done["status"] == "COMPLETED"
    return done


def test_every_response_validates_and_status_codes_follow_the_model(sim, drs, check, seed_servers, manual_clock):
    """One pass through every implemented operation; each answer validates against the output shape."""
    sim.trust_staging(TARGET, [STAGING])
    seed_servers(STAGING, n=3)
    sid = _ec2_server(sim, origin_region="us-west-2")
    c = drs()

    servers = check("DescribeSourceServers", c.describe_source_servers())["items"]
    assert [s["sourceServerID"] for s in servers] == [sid]
    s = servers[0]
    assert s["arn"] == f"arn:aws:drs:us-east-1:{TARGET}:source-server/{sid}"
    assert s["sourceProperties"]["identificationHints"]["awsInstanceID"] == "i-0123456789abcdef0"
    assert s["sourceCloudProperties"]["originRegion"] == "us-west-2"
    assert s["replicationDirection"] == "FAILOVER"
    assert s["stagingArea"] == {"status": "NOT_EXTENDED"}
    assert {"dataReplicationInfo", "lifeCycle", "tags", "agentVersion"} <= set(s)

    templates = check("DescribeReplicationConfigurationTemplates", c.describe_replication_configuration_templates())
    assert len(templates["items"]) == 1
    config = check("GetReplicationConfiguration", c.get_replication_configuration(sourceServerID=sid))
    assert config["sourceServerID"] == sid and config["replicatedDisks"][0]["isBootDisk"] is True
    template_id = templates["items"][0]["replicationConfigurationTemplateID"]
    assert sim.replication_template_of(TARGET, "us-east-1", sid) == template_id

    launch = check("GetLaunchConfiguration", c.get_launch_configuration(sourceServerID=sid))
    assert launch["copyTags"] is False and launch["ec2LaunchTemplateID"].startswith("lt-")
    updated = check(
        "UpdateLaunchConfiguration",
        c.update_launch_configuration(sourceServerID=sid, copyTags=True, launchDisposition="STOPPED"),
    )
    assert updated["copyTags"] is True and updated["launchDisposition"] == "STOPPED"
    assert c.get_launch_configuration(sourceServerID=sid)["copyTags"] is True

    accounts = check("ListStagingAccounts", c.list_staging_accounts())
    assert accounts["accounts"] == [{"accountID": STAGING}]
    extensible = check("ListExtensibleSourceServers", c.list_extensible_source_servers(stagingAccountID=STAGING))
    assert len(extensible["items"]) == 3
    created = check(
        "CreateExtendedSourceServer",
        c.create_extended_source_server(sourceServerArn=extensible["items"][0]["arn"], tags={"k": "v"}),
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["sourceServer"]["stagingArea"]["status"] == "EXTENDED"

    assert check("TagResource", c.tag_resource(resourceArn=s["arn"], tags={"App": "web"}))
    assert check("ListTagsForResource", c.list_tags_for_resource(resourceArn=s["arn"]))["tags"] == {"App": "web"}
    check("UntagResource", c.untag_resource(resourceArn=s["arn"], tagKeys=["App"]))

    started = check(
        "StartRecovery",
        c.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=True, tags={"orchestrator:execution": "x1"}),
    )
    assert started["ResponseMetadata"]["HTTPStatusCode"] == 202
    job = started["job"]
    assert job["tags"] == {"orchestrator:execution": "x1"} and job["status"] == "PENDING"
    assert check("DescribeJobLogItems", c.describe_job_log_items(jobID=job["jobID"]))["items"] == []
    job = _finished(c, job, manual_clock)
    rid = job["participatingServers"][0]["recoveryInstanceID"]
    events = check("DescribeJobLogItems", c.describe_job_log_items(jobID=job["jobID"]))["items"]
    assert [e["event"] for e in events] == ["JOB_START", "LAUNCH_START", "JOB_END"]
    ris = check("DescribeRecoveryInstances", c.describe_recovery_instances())["items"]
    assert [(r["recoveryInstanceID"], r["ec2InstanceID"], r["jobID"]) for r in ris] == [(rid, rid, job["jobID"])]
    assert check("DescribeJobs", c.describe_jobs(filters={"jobIDs": [job["jobID"]]}))["items"][0]["tags"] == job["tags"]

    reversed_arn = check("ReverseReplication", c.reverse_replication(recoveryInstanceID=rid))
    assert ":us-west-2:" in reversed_arn["reversedDirectionSourceServerArn"]

    terminated = check("TerminateRecoveryInstances", c.terminate_recovery_instances(recoveryInstanceIDs=[rid]))
    assert terminated["job"]["participatingServers"][0]["launchStatus"] == "PENDING"
    done = _finished(c, terminated["job"], manual_clock)
    assert done["participatingServers"][0]["launchStatus"] == "TERMINATED"
    disconnected = check("DisconnectSourceServer", c.disconnect_source_server(sourceServerID=sid))
    assert disconnected["dataReplicationInfo"]["dataReplicationState"] == "DISCONNECTED"
    deleted = check("DeleteSourceServer", c.delete_source_server(sourceServerID=sid))
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204

    uninitialized = drs(TARGET, "eu-central-2")
    sim.set_initialized(TARGET, "eu-central-2", False)
    assert check("InitializeService", uninitialized.initialize_service())["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_paging_1001_servers_yields_each_exactly_once(sim, drs, check, seed_servers):
    ids = seed_servers(n=1001)
    c = drs()
    pages = list(c.get_paginator("describe_source_servers").paginate(PaginationConfig={"PageSize": 100}))
    assert len(pages) == 11
    seen = [s["sourceServerID"] for p in pages for s in check("DescribeSourceServers", p)["items"]]
    assert seen == ids  # each exactly once, in a stable order
    biggest = c.describe_source_servers(maxResults=UNMODELLED_MAX_RESULTS)
    assert len(biggest["items"]) == 1000 and biggest["nextToken"]
    assert len(c.describe_source_servers(nextToken=biggest["nextToken"])["items"]) == 1


def test_paging_is_stable_when_servers_are_deleted_between_pages(sim, drs, seed_servers):
    ids = seed_servers(n=10, replication_state="DISCONNECTED")
    c = drs()
    first = c.describe_source_servers(maxResults=4)
    c.delete_source_server(sourceServerID=ids[1])  # already returned
    c.delete_source_server(sourceServerID=ids[6])  # not yet returned
    rest = list(
        c.get_paginator("describe_source_servers")
        .paginate(PaginationConfig={"StartingToken": first["nextToken"]})
        .search("items[]")
    )
    assert [s["sourceServerID"] for s in rest] == ids[4:6] + ids[7:]


@pytest.mark.parametrize(
    ("call", "cap"),
    [
        (lambda c: c.list_extensible_source_servers(stagingAccountID=STAGING, maxResults=301), 300),
        (lambda c: c.list_staging_accounts(maxResults=51), 50),
        (lambda c: c.describe_source_servers(maxResults=1001), 1000),
        (lambda c: c.describe_recovery_instances(maxResults=1001), 1000),
        (lambda c: c.describe_jobs(maxResults=5000), 1000),
    ],
    ids=[
        "ListExtensibleSourceServers",
        "ListStagingAccounts",
        "DescribeSourceServers",
        "DescribeRecoveryInstances",
        "DescribeJobs",
    ],
)
def test_max_results_above_the_cap_is_rejected(sim, drs, call, cap):
    sim.trust_staging(TARGET, [STAGING])
    with pytest.raises(ClientError) as e:
        call(drs())
    r = e.value.response
    assert r["Error"]["Code"] == "ValidationException"
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert r["reason"] == "fieldValidationFailed"
    assert r["fieldList"] == [{"name": "maxResults", "message": f"Member must have value less than or equal to {cap}"}]
    assert "validation error detected" in r["Error"]["Message"]


def test_server_side_validation_checks_patterns_the_client_does_not(sim, drs):
    c = drs()
    with pytest.raises(ClientError) as e:
        c.get_launch_configuration(sourceServerID="x-0123456789abcdefg")  # right length, wrong pattern
    r = e.value.response
    assert r["Error"]["Code"] == "ValidationException"
    assert r["fieldList"][0]["name"] == "sourceServerID"
    with pytest.raises(ClientError) as e:
        c.describe_source_servers(nextToken="not-a-token")
    assert e.value.response["fieldList"][0]["name"] == "nextToken"


def test_missing_resources_answer_resource_not_found_with_its_members(sim, drs):
    c = drs()
    with pytest.raises(ClientError) as e:
        c.get_replication_configuration(sourceServerID="s-0123456789abcdef0")
    r = e.value.response
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("ResourceNotFoundException", 404)
    assert r["resourceId"] == "s-0123456789abcdef0" and r["resourceType"] == "SOURCE_SERVER"
    arn = f"arn:aws:drs:us-east-1:{TARGET}:source-server/s-0123456789abcdef0"
    with pytest.raises(ClientError) as e:
        c.list_tags_for_resource(resourceArn=arn)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_unimplemented_operations_answer_501(sim, drs):
    with pytest.raises(ClientError) as e:
        drs().describe_launch_configuration_templates()
    r = e.value.response
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("NotImplementedException", 501)
    assert "DescribeLaunchConfigurationTemplates" in r["Error"]["Message"]
    assert set(IMPLEMENTED_OPERATIONS) <= set(operation_names())


def test_tags_use_percent_encoded_arn_paths_and_reject_aws_prefix(sim, drs, check, seed_servers):
    sid = seed_servers(n=1)[0]
    c = drs()
    arn = c.describe_source_servers()["items"][0]["arn"]
    c.tag_resource(resourceArn=arn, tags={"Owner": "team-a", "Cost Center": "42/a"})
    assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {"Owner": "team-a", "Cost Center": "42/a"}
    with pytest.raises(ClientError) as e:
        c.tag_resource(resourceArn=arn, tags={"aws:cloudformation:stack-name": "x"})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    c.untag_resource(resourceArn=arn, tagKeys=["Owner", "Cost Center", "absent"])
    assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {}
    assert sim.source_servers(TARGET, "us-east-1")[0]["sourceServerID"] == sid


def test_filters(sim, drs, seed_servers, manual_clock):
    sim.trust_staging(TARGET, [STAGING])
    ids = seed_servers(n=5)
    staging_ids = seed_servers(STAGING, n=2)
    arn = f"arn:aws:drs:us-east-1:{STAGING}:source-server/{staging_ids[0]}"
    c = drs()
    ext = c.create_extended_source_server(sourceServerArn=arn)["sourceServer"]
    got = c.describe_source_servers(filters={"sourceServerIDs": [ids[1], ids[3], "s-00000000000000000"]})["items"]
    assert [s["sourceServerID"] for s in got] == [ids[1], ids[3]]
    by_staging = c.describe_source_servers(filters={"stagingAccountIDs": [STAGING]})["items"]
    assert [s["sourceServerID"] for s in by_staging] == [ext["sourceServerID"]]
    mac = c.describe_source_servers()["items"][2]["sourceProperties"]["networkInterfaces"][0]["macAddress"]
    assert [s["sourceServerID"] for s in c.describe_source_servers(filters={"hardwareId": mac})["items"]] == [ids[2]]
    job = c.start_recovery(sourceServers=[{"sourceServerID": ids[0]}, {"sourceServerID": ids[4]}])["job"]
    manual_clock.advance(JOB_SECONDS["LAUNCH"])
    assert c.describe_recovery_instances(filters={"sourceServerIDs": [ids[4]]})["items"][0]["jobID"] == job["jobID"]
    assert c.describe_jobs(filters={"fromDate": "2000-01-01T00:00:00Z"})["items"][0]["jobID"] == job["jobID"]
    assert c.describe_jobs(filters={"toDate": "2000-01-01T00:00:00Z"})["items"] == []


def test_staging_extension_flow_and_its_errors(sim, drs, seed_servers):
    sim.trust_staging(TARGET, [STAGING])
    staging_ids = seed_servers(STAGING, n=4)
    seed_servers(STAGING, n=1, replication_state="DISCONNECTED")
    c = drs()
    extensible = c.list_extensible_source_servers(stagingAccountID=STAGING)["items"]
    assert [i["arn"].rsplit("/", 1)[1] for i in extensible] == staging_ids  # disconnected ones are not offered
    first = c.create_extended_source_server(sourceServerArn=extensible[0]["arn"])["sourceServer"]
    assert first["stagingArea"] == {
        "status": "EXTENDED",
        "stagingAccountID": STAGING,
        "stagingSourceServerArn": extensible[0]["arn"],
    }
    assert len(c.list_extensible_source_servers(stagingAccountID=STAGING)["items"]) == 3

    def code(fn):
        with pytest.raises(ClientError) as e:
            fn()
        return e.value.response["Error"]["Code"]

    assert code(lambda: c.create_extended_source_server(sourceServerArn=extensible[0]["arn"])) == "ValidationException"
    assert code(lambda: c.list_extensible_source_servers(stagingAccountID="444444444444")) == "AccessDeniedException"
    eu = drs(TARGET, "eu-west-1")
    assert code(lambda: eu.create_extended_source_server(sourceServerArn=extensible[1]["arn"])) == "ValidationException"
    missing = extensible[1]["arn"][:-17] + "0" * 17
    assert code(lambda: c.create_extended_source_server(sourceServerArn=missing)) == "ResourceNotFoundException"
    # ListStagingAccounts pages (model max 50)
    sim.trust_staging(TARGET, [f"4000000000{i:02d}" for i in range(60)])
    pages = list(c.get_paginator("list_staging_accounts").paginate(PaginationConfig={"PageSize": 50}))
    assert [len(p["accounts"]) for p in pages] == [50, 11]


def test_deleting_a_staging_server_marks_its_extensions(sim, drs, seed_servers):
    sim.trust_staging(TARGET, [STAGING])
    (staging_id,) = seed_servers(STAGING, n=1)
    arn = f"arn:aws:drs:us-east-1:{STAGING}:source-server/{staging_id}"
    ext = drs().create_extended_source_server(sourceServerArn=arn)["sourceServer"]
    staging = drs(STAGING)
    staging.disconnect_source_server(sourceServerID=staging_id)
    staging.delete_source_server(sourceServerID=staging_id)
    (after,) = drs().describe_source_servers(filters={"sourceServerIDs": [ext["sourceServerID"]]})["items"]
    assert after["stagingArea"]["status"] == "EXTENSION_ERROR"


def test_recovery_lifecycle_conflicts(sim, drs, seed_servers, manual_clock):
    (sid,) = seed_servers(n=1)
    c = drs()
    job = c.start_recovery(sourceServers=[{"sourceServerID": sid}, {"sourceServerID": "s-00000000000000000"}])["job"]
    job = _finished(c, job, manual_clock)
    assert [p["launchStatus"] for p in job["participatingServers"]] == ["LAUNCHED", "FAILED"]
    first_ri = job["participatingServers"][0]["recoveryInstanceID"]
    with pytest.raises(ClientError) as e:
        c.disconnect_source_server(sourceServerID=sid)
    assert e.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as e:
        c.delete_source_server(sourceServerID=sid)
    assert e.value.response["Error"]["Code"] == "ConflictException"
    again = c.start_recovery(sourceServers=[{"sourceServerID": sid}])["job"]  # replaces the previous instance
    assert [r["recoveryInstanceID"] for r in c.describe_recovery_instances()["items"]] == [first_ri]  # until done
    again = _finished(c, again, manual_clock)
    ris = c.describe_recovery_instances()["items"]
    assert [r["recoveryInstanceID"] for r in ris] == [again["participatingServers"][0]["recoveryInstanceID"]]
    assert ris[0]["recoveryInstanceID"] != first_ri
    server = c.describe_source_servers()["items"][0]
    assert server["recoveryInstanceId"] == ris[0]["recoveryInstanceID"]
    assert server["lastLaunchResult"] == "SUCCEEDED"
    assert server["lifeCycle"]["lastLaunch"]["initiated"]["type"] == "RECOVERY"


def test_reverse_replication_links_both_directions(sim, drs, manual_clock):
    sid = _ec2_server(sim, region="us-west-2", origin_region="us-east-1")
    west = drs(TARGET, "us-west-2")
    job = west.start_recovery(sourceServers=[{"sourceServerID": sid}])["job"]
    rid = _finished(west, job, manual_clock)["participatingServers"][0]["recoveryInstanceID"]
    arn = west.reverse_replication(recoveryInstanceID=rid)["reversedDirectionSourceServerArn"]
    assert west.reverse_replication(recoveryInstanceID=rid)["reversedDirectionSourceServerArn"] == arn  # idempotent
    (original,) = west.describe_source_servers()["items"]
    (failback,) = drs(TARGET, "us-east-1").describe_source_servers()["items"]
    assert failback["arn"] == arn and arn.startswith(f"arn:aws:drs:us-east-1:{TARGET}:source-server/")
    assert failback["replicationDirection"] == "FAILBACK"
    assert failback["reversedDirectionSourceServerArn"] == original["arn"]
    assert original["reversedDirectionSourceServerArn"] == arn
    assert failback["sourceProperties"]["identificationHints"]["awsInstanceID"] == rid
    assert failback["sourceCloudProperties"]["originRegion"] == "us-west-2"
    on_prem = sim.create_source_server(TARGET, "us-west-2", ServerSpec(hostname="vm-1"))
    job2 = west.start_recovery(sourceServers=[{"sourceServerID": on_prem}])["job"]
    rid2 = _finished(west, job2, manual_clock)["participatingServers"][0]["recoveryInstanceID"]
    with pytest.raises(ClientError) as e:
        west.reverse_replication(recoveryInstanceID=rid2)
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_default_page_size_and_unknown_routes(sim, drs, seed_servers):
    seed_servers(n=150)
    assert len(drs().describe_source_servers()["items"]) == 100
    status, headers, body = sim.handle("GET", "/NoSuchThing", {}, b"", account=TARGET, region="us-east-1")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    status, _, body = sim.handle("POST", "/DescribeSourceServers", {}, b"{not json", account=TARGET, region="us-east-1")
    assert status == 400 and b"cannotParse" in body


def test_concurrent_callers_see_consistent_state(sim, drs, seed_servers, manual_clock):
    """Step Functions Map runs many workers at once: threads share the engine safely."""
    from concurrent.futures import ThreadPoolExecutor

    regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"]
    ids = {r: seed_servers(TARGET, r, n=20) for r in regions}
    clients = {r: drs(TARGET, r) for r in regions}

    def work(n: int) -> int:
        region = regions[n % len(regions)]
        c = clients[region]
        sid = ids[region][n]
        arn = f"arn:aws:drs:{region}:{TARGET}:source-server/{sid}"
        c.tag_resource(resourceArn=arn, tags={"worker": str(n)})
        c.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=True)
        pages = c.get_paginator("describe_source_servers").paginate(PaginationConfig={"PageSize": 10})
        return len(list(pages.search("items[]")))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(work, range(20))) == {20}
    manual_clock.advance(JOB_SECONDS["LAUNCH"])
    for r in regions:
        assert len(sim.recovery_instances(TARGET, r)) == 5
        assert sum(1 for s in sim.source_servers(TARGET, r) if "worker" in s["tags"]) == 5
    calls = {c["operation"]: 0 for c in sim.counters_snapshot()["calls"]}
    for c in sim.counters_snapshot()["calls"]:
        calls[c["operation"]] += c["calls"]
    assert calls["TagResource"] == calls["StartRecovery"] == 20
