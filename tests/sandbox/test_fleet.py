"""Fleet files: strict loading, deterministic seeding, and everything apply_fleet creates in moto."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.drs import DrsEngine, shapes
from sandbox.fleet import FleetError, accounts_rows, add_source_servers, apply_fleet, external_id_of, load_fleet
from sandbox.fleet.regions import OPT_IN_REGIONS
from sandbox.moto_patches import install_sts_external_id_check

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "events" / "fleets" / "demo.yaml"
BENCH = ROOT / "events" / "fleets" / "bench.yaml"
PROD, ANALYTICS, STAGING = "111111111111", "222222222222", "333333333333"
ROLE = "DrsFleetSyncRole"
pytestmark = pytest.mark.usefixtures("lean_moto_ec2")

SMALL = {
    "seed": 3,
    "accounts": [
        {
            "accountId": PROD,
            "externalId": "ext-1",
            "stagingAccounts": [STAGING],
            "regions": {
                "us-east-1": {"sourceServers": 12, "ec2Backed": 0.5, "recoveryInstances": 2, "disconnected": 1},
                "us-west-2": {"sourceServers": 4, "extendedFrom": {STAGING: 2}},
            },
        },
        {"accountId": STAGING, "kind": "staging", "regions": {"us-west-2": {"sourceServers": 3, "ec2Backed": 1.0}}},
    ],
}


def _bad(**changes):
    fleet = json.loads(json.dumps(SMALL))
    for path, value in changes.items():
        *parents, leaf = path.split("/")
        node = fleet
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[int(leaf) if leaf.isdigit() else leaf] = value
    return fleet


@pytest.mark.parametrize(
    ("fleet", "message"),
    [
        (_bad(**{"sead": 1}), "sead: unknown field"),
        (_bad(**{"accounts/0/regions/us-east-1/sourceServers": -1}), "accounts[0].regions.us-east-1.sourceServers:"),
        (_bad(**{"accounts/0/regions/us-east-1/servers": 5}), "accounts[0].regions.us-east-1.servers: unknown field"),
        (_bad(**{"accounts/0/regions/us-east-1/ec2Backed": 1.5}), "accounts[0].regions.us-east-1.ec2Backed:"),
        (_bad(**{"accounts/0/regions/xx-east-1": {}}), "accounts[0].regions.xx-east-1: not a DRS region"),
        (_bad(**{"accounts/0/accountId": 111111111111}), "accounts[0].accountId: account ids must be quoted"),
        (_bad(**{"accounts/1/accountId": PROD}), "accounts[1].accountId: 111111111111 appears twice"),
        (_bad(**{"accounts/0/kind": "source"}), "accounts[0].kind:"),
        (
            _bad(**{"accounts/0/stagingAccounts": ["444444444444"]}),
            "accounts[0].stagingAccounts[0]: 444444444444 is not",
        ),
        (_bad(**{"accounts/1/kind": "target"}), "accounts[0].stagingAccounts[0]: 333333333333 is kind target"),
        (
            _bad(**{"accounts/0/regions/us-west-2/extendedFrom": {STAGING: 4}}),
            "accounts[0].regions.us-west-2.extendedFrom.333333333333: 4 > the 3 connected servers",
        ),
        (
            _bad(**{"accounts/0/regions/us-east-1/recoveryInstances": 12}),
            "accounts[0].regions.us-east-1.recoveryInstances: 12 > connected servers (11",
        ),
        (_bad(**{"accounts/0/disabledRegions": ["us-east-1"]}), "accounts[0].disabledRegions[0]: us-east-1 also has"),
        (_bad(**{"accounts/0/uninitializedRegions": ["mars-1"]}), "accounts[0].uninitializedRegions[0]: 'mars-1'"),
        (_bad(**{"accounts/0/enabledRegions": ["us-east-1"]}), "accounts[0].enabledRegions[0]: us-east-1 is not"),
        (
            _bad(**{"accounts/0/regions/me-south-1": {"sourceServers": 1}}),
            "accounts[0].regions.me-south-1: an opt-in region; list it in enabledRegions",
        ),
        (
            _bad(**{"accounts/0/uninitializedRegions": ["ap-east-1"]}),
            "accounts[0].uninitializedRegions.ap-east-1: an opt-in region",
        ),
        (
            _bad(**{"accounts/0/enabledRegions": ["eu-south-1"], "accounts/0/disabledRegions": ["eu-south-1"]}),
            "accounts[0].enabledRegions[0]: eu-south-1 is also in disabledRegions",
        ),
        (_bad(**{"accounts/0/externalId": "x"}), "accounts[0].externalId:"),
        (
            _bad(
                **{
                    "accounts/0/regions/us-west-2": {
                        "sourceServers": 4,
                        "ec2Backed": 1.0,
                        "originRegion": "eu-west-1",
                        "recoveryInstances": 1,
                        "reverseReplicated": 1,
                    }
                }
            ),
            "accounts[0].regions.us-west-2.reverseReplicated: originRegion eu-west-1 is not enabled and initialized",
        ),
        (
            _bad(**{"accounts/0/regions/us-east-1/replicationStates": {"DISCONNECTED": 1}}),
            "accounts[0].regions.us-east-1.replicationStates: unknown states ['DISCONNECTED']",
        ),
        (
            _bad(faults=[{"operation": "DescribeSourceServers", "error": "ServiceQuotaExceededException"}]),
            "faults[0]: error: ServiceQuotaExceededException is not an error the DRS model defines for "
            "DescribeSourceServers",
        ),
        (_bad(faults=[{"accountId": "*", "region": "eu-west-1", "throtleTps": 2}]), "faults[0].throtleTps: unknown"),
        (_bad(accounts=[]), "accounts: List should have at least 1 item"),
        ([1, 2], "fleet: must be a mapping or a file path, not list"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_bad_fleets_are_rejected_naming_the_field(fleet, message):
    with pytest.raises(FleetError) as e:
        load_fleet(fleet)
    assert message in str(e.value)


def test_fleet_files(tmp_path):
    demo, bench = load_fleet(DEMO), load_fleet(str(BENCH))
    assert (len(demo.targets), len(demo.staging)) == (2, 1)
    assert 200 <= demo.server_count <= 500
    # docs/fleet.md: the demo has "a throttled and an access-denied pair", nothing else
    kinds = sorted("throttled" if f.throttle_tps else "denied" if f.access_denied else repr(f) for f in demo.faults)
    assert kinds == ["denied", "throttled"]
    assert "a throttled and an access-denied pair" in (ROOT / "docs" / "fleet.md").read_text()
    assert {r for a in demo.accounts for r in a.regions} <= set(shapes.regions())
    assert (len(bench.targets), len(bench.staging), bench.server_count, bench.latency_ms) == (3, 1, 2500, 0)
    assert len({r for a in bench.accounts for r in a.regions}) == 4
    as_json = tmp_path / "small.json"
    as_json.write_text(json.dumps(SMALL))
    assert load_fleet(as_json) == load_fleet(SMALL)
    with pytest.raises(FleetError, match="cannot read"):
        load_fleet(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("accounts: [\n")
    with pytest.raises(FleetError, match="not valid YAML"):
        load_fleet(broken)
    assert len(shapes.regions()) >= 34  # from botocore, never a hard-coded list
    empty_region = tmp_path / "empty.yaml"
    empty_region.write_text('accounts:\n  - accountId: "111111111111"\n    regions:\n      eu-west-1:\n')
    assert load_fleet(empty_region).accounts[0].regions["eu-west-1"].source_servers == 0


ONE_ACCOUNT = 'accounts:\n  - accountId: "111111111111"\n'


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.yaml", ONE_ACCOUNT.encode() + b"    name: caf\xe9\n", "line 3: not UTF-8 text (byte 0xe9)"),
        ("twice.yaml", "seed: 1\nseed: 2\n" + ONE_ACCOUNT, "seed: key given twice (lines 1 and 2)"),
        (
            "nested.yaml",
            ONE_ACCOUNT + "    regions:\n      us-east-1: {sourceServers: 1, sourceServers: 2}\n",
            "accounts[0].regions.us-east-1.sourceServers: key given twice (lines 4 and 4)",
        ),
        ("twice.json", '{"accounts": [], "accounts": []}', "not valid JSON: key 'accounts' given twice"),
        (
            "bool.yaml",
            ONE_ACCOUNT + "    regions:\n      us-east-1: {sourceServers: true}\n",
            "accounts[0].regions.us-east-1.sourceServers: Input should be a valid integer",
        ),
        ("text.yaml", ONE_ACCOUNT + "    regions:\n      us-east-1: {sourceServers: '5'}\n", "valid integer"),
        ("fault.yaml", ONE_ACCOUNT + "faults: [{accessDenied: 1}]\n", "faults[0].accessDenied: Input should be"),
        (
            "typo.yaml",
            'acounts:\n  - accountId: "111111111111"\n',
            "acounts: unknown field (did you mean accounts?); accounts: Field required",
        ),
    ],
)
def test_fleet_file_mistakes_name_the_file_and_the_field(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(FleetError) as e:
        load_fleet(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value), str(e.value)


def test_a_directory_is_not_a_fleet_file(tmp_path):
    with pytest.raises(FleetError, match="is a directory, not a fleet file"):
        load_fleet(tmp_path)


def test_the_servers_per_region_cap_is_the_documented_one():
    cap = 100_000

    def fleet(servers: int) -> dict[str, object]:
        return {"accounts": [{"accountId": PROD, "regions": {"us-east-1": {"sourceServers": servers}}}]}

    assert load_fleet(fleet(cap)).server_count == cap
    with pytest.raises(FleetError, match="sourceServers: Input should be less than or equal to 100000"):
        load_fleet(fleet(cap + 1))
    assert "100,000 servers" in (ROOT / "docs" / "fleet.md").read_text()


def test_the_demo_estate_is_as_docs_fleet_md_describes_it():
    described = (ROOT / "docs" / "fleet.md").read_text()
    figure = re.search(r"~([\d,]+) servers in (\d+) of\s+the (\d+) DRS regions", described)
    assert figure, "docs/fleet.md no longer sizes the demo estate: update this test"
    demo = load_fleet(DEMO)
    about = int(figure.group(1).replace(",", ""))
    assert abs(demo.server_count - about) <= about * 0.05  # "~": within 5 %
    with_servers = {r for a in demo.accounts for r, spec in a.regions.items() if spec.source_servers}
    assert (len(with_servers), len(shapes.regions())) == (int(figure.group(2)), int(figure.group(3)))


def _snapshot(engine: DrsEngine, fleet) -> dict[object, list[tuple[str, str, str | None]]]:
    """Servers per (account, region); the test adds the recovery instances under \"ri\"."""
    return {
        (a.account_id, r): [
            (
                s["sourceServerID"],
                s["sourceProperties"]["identificationHints"]["hostname"],
                s["sourceProperties"]["identificationHints"].get("awsInstanceID"),
            )
            for s in engine.source_servers(a.account_id, r)
        ]
        for a in fleet.accounts
        for r in a.regions
    }


def test_apply_is_deterministic():
    engine = DrsEngine()
    fleet = load_fleet(SMALL)
    runs = []
    for seed in (3, 3, 4):
        with mock_aws():
            apply_fleet(fleet.model_copy(update={"seed": seed}), engine, accounts_table=None, role_name=ROLE)
            runs.append(_snapshot(engine, fleet))
            ri = engine.recovery_instances(PROD, "us-east-1")
            runs[-1]["ri"] = [(r["recoveryInstanceID"], r["sourceServerID"], None) for r in ri]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    ids = [sid for servers in runs[0].values() for sid, _, _ in servers]
    assert len(ids) == len(set(ids)) == 12 + 4 + 2 + 3 + 2  # + extended servers; + recovery instances


def _table(name: str = "accounts") -> None:
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "accountId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "accountId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_apply_demo_creates_the_estate(sim, drs, credentials, check):
    fleet = load_fleet(DEMO)
    _table()
    apply_fleet(fleet, sim, accounts_table="accounts", role_name=ROLE)

    # accounts table rows
    items = boto3.resource("dynamodb", region_name="us-east-1").Table("accounts").scan()["Items"]
    rows = {i["accountId"]: i for i in items}
    assert rows[PROD] == {
        "accountId": PROD,
        "name": "prod-dr",
        "kind": "target",
        "roleArn": f"arn:aws:iam::{PROD}:role/{ROLE}",
        "externalId": "ext-prod-dr",
        "stagingAccounts": [STAGING],
        "enabled": True,
        "allowedDrsAccounts": [ANALYTICS],
    }
    # an account the fleet gives no ExternalId gets one drawn from the seed, as the hub draws one per account
    assert rows[ANALYTICS]["stagingAccounts"] == [] and rows[ANALYTICS]["externalId"] == external_id_of(
        fleet.seed, fleet.account(ANALYTICS)
    )
    assert rows[ANALYTICS]["externalId"].startswith("sbx-") and len(rows[ANALYTICS]["externalId"]) == 36
    assert rows[STAGING]["kind"] == "staging" and "stagingAccounts" not in rows[STAGING]
    assert [r["accountId"] for r in accounts_rows(fleet, ROLE)] == [PROD, ANALYTICS, STAGING]

    # IAM roles with the ExternalId condition; AssumeRole behaves as in AWS with the patch
    undo = install_sts_external_id_check()
    try:
        prod = credentials(PROD, external_id="ext-prod-dr", role=ROLE)
        with pytest.raises(ClientError):
            credentials(PROD, role=ROLE)
        with pytest.raises(ClientError):
            credentials(ANALYTICS, role=ROLE)  # every fleet role requires its ExternalId
        analytics = credentials(ANALYTICS, external_id=rows[ANALYTICS]["externalId"], role=ROLE)
    finally:
        undo()
    iam = boto3.client("iam", region_name="us-east-1", **prod)
    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    statement = (json.loads(trust) if isinstance(trust, str) else trust)["Statement"][0]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    # the shipped role (templates/cross-account-role.yaml); without a hub stack it trusts the hub's account
    assert statement["Condition"] == {
        "StringEquals": {"sts:ExternalId": "ext-prod-dr", "aws:PrincipalArn": ["arn:aws:iam::123456789012:root"]}
    }

    # DRS side, seen through the product's own path (assumed role)
    c = boto3.client("drs", region_name="us-east-1", **prod)
    servers = [
        s
        for p in c.get_paginator("describe_source_servers").paginate()
        for s in check("DescribeSourceServers", p)["items"]
    ]
    native = [
        s for s in servers if s["stagingArea"]["status"] == "NOT_EXTENDED" and s["replicationDirection"] == "FAILOVER"
    ]
    extended = [s for s in servers if s["stagingArea"]["status"] == "EXTENDED"]
    failback = [s for s in servers if s["replicationDirection"] == "FAILBACK"]
    assert (len(native), len(extended), len(failback)) == (120, 10, 1)
    states = [s["dataReplicationInfo"]["dataReplicationState"] for s in native]
    assert states.count("DISCONNECTED") == 3
    assert len(c.list_extensible_source_servers(stagingAccountID=STAGING)["items"]) == 20
    assert c.list_staging_accounts()["accounts"] == [{"accountID": STAGING}]
    assert len(c.describe_recovery_instances()["items"]) == 2

    # EC2-backed servers: a moto instance with tags whose id is awsInstanceID, in the origin account/region
    ec2 = boto3.client("ec2", region_name="us-east-1", **prod)
    instances = {
        i["InstanceId"]: i
        for page in ec2.get_paginator("describe_instances").paginate()
        for r in page["Reservations"]
        for i in r["Instances"]
    }
    on_ec2 = [s for s in native if "awsInstanceID" in s["sourceProperties"]["identificationHints"]]
    assert len(on_ec2) == 60
    for s in on_ec2:
        instance = instances[s["sourceProperties"]["identificationHints"]["awsInstanceID"]]
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags["Name"] == s["sourceProperties"]["identificationHints"]["hostname"]
        assert {"App", "Env", "CostCenter"} <= set(tags)
        assert s["sourceCloudProperties"] == {
            "originAccountID": PROD,
            "originRegion": "us-east-1",
            "originAvailabilityZone": instance["Placement"]["AvailabilityZone"],
        }
        assert s["sourceProperties"]["networkInterfaces"][0]["ips"] == [instance["PrivateIpAddress"]]
    # us-west-2 servers replicate EC2 instances that live in us-east-1
    west = boto3.client("drs", region_name="us-west-2", **prod).describe_source_servers(maxResults=50)["items"]
    west_ids = {s["sourceProperties"]["identificationHints"]["awsInstanceID"] for s in west}
    assert len(west_ids) == 40 and west_ids <= set(instances)
    # cross-account origin: analytics' us-east-1 servers run on EC2 in the prod account
    cross = boto3.client("drs", region_name="us-east-1", **analytics).describe_source_servers()["items"]
    assert {s["sourceCloudProperties"]["originAccountID"] for s in cross} == {PROD}
    assert {s["sourceProperties"]["identificationHints"]["awsInstanceID"] for s in cross} <= set(instances)
    # every recovery instance has its EC2 instance in the recovery account/region
    for region, creds in (("us-east-1", prod), ("eu-west-1", analytics)):
        ris = boto3.client("drs", region_name=region, **creds).describe_recovery_instances()["items"]
        found = boto3.client("ec2", region_name=region, **creds).describe_instances(
            InstanceIds=[r["ec2InstanceID"] for r in ris]
        )
        assert len([i for r in found["Reservations"] for i in r["Instances"]]) == len(ris) > 0

    # regions: every region not listed is uninitialized, opt-in regions answer only where enabled, faults
    answers = (("ap-south-1", "UninitializedAccountException"), ("af-south-1", "UnrecognizedClientException"))
    for region, code in answers:
        for creds in (prod, analytics):
            with pytest.raises(ClientError) as e:
                boto3.client("drs", region_name=region, **creds).describe_source_servers()
            assert e.value.response["Error"]["Code"] == code
    with pytest.raises(ClientError) as e:
        boto3.client("drs", region_name="us-west-2", **analytics).describe_source_servers()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert boto3.client("drs", region_name="eu-south-1", **prod).describe_source_servers()["items"] == []
    with pytest.raises(ClientError) as e:
        boto3.client("drs", region_name="eu-south-1", **analytics).describe_source_servers()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert len(sim.faults) == 2


def test_apply_requires_an_existing_accounts_table(sim):
    with pytest.raises(FleetError, match="accounts table 'nope' does not exist"):
        apply_fleet(load_fleet(SMALL), sim, accounts_table="nope", role_name=ROLE)


def test_opt_in_regions_are_drs_regions_from_botocore():
    assert len(OPT_IN_REGIONS) == 17
    assert set(OPT_IN_REGIONS) < set(shapes.regions())


def test_regions_default_to_aws_and_unregistered_accounts(sim, drs):
    """By default a region nothing lists is uninitialized and an opt-in region is not enabled; an account may
    say otherwise (otherRegions, enabledRegions)."""
    fleet = _bad(**{"accounts/1/registered": False})
    fleet["accounts"].append(
        {"accountId": "555555555555", "otherRegions": "initialized", "enabledRegions": ["me-south-1"]}
    )
    _table()
    apply_fleet(load_fleet(fleet), sim, accounts_table="accounts", role_name=ROLE)
    for account, region, code in (
        (PROD, "eu-north-1", "UninitializedAccountException"),
        (STAGING, "us-east-1", "UninitializedAccountException"),
        (PROD, "me-south-1", "UnrecognizedClientException"),
        ("555555555555", "af-south-1", "UnrecognizedClientException"),
    ):
        with pytest.raises(ClientError) as e:
            drs(account, region).describe_source_servers()
        assert e.value.response["Error"]["Code"] == code, (account, region)
    assert len(drs(PROD, "us-east-1").describe_source_servers()["items"]) == 12
    assert drs("555555555555", "eu-north-1").describe_source_servers()["items"] == []
    assert drs("555555555555", "me-south-1").describe_source_servers()["items"] == []
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName="accounts")["Items"]
    assert sorted(i["accountId"]["S"] for i in items) == [PROD, "555555555555"]


def test_add_source_servers_as_new_agents(sim, drs, credentials):
    apply_fleet(load_fleet(SMALL), sim, accounts_table=None, role_name=ROLE)
    sim.set_initialized(PROD, "sa-east-1", False)
    new = add_source_servers(sim, PROD, "sa-east-1", 5, ec2_backed=1.0)
    assert len(new) == 5
    c = drs(PROD, "sa-east-1")
    servers = c.describe_source_servers()["items"]
    assert [s["sourceServerID"] for s in servers] == new
    assert {s["dataReplicationInfo"]["dataReplicationState"] for s in servers} == {"INITIAL_SYNC"}
    ec2 = boto3.client("ec2", region_name="sa-east-1", **credentials(PROD))
    instance_ids = [s["sourceProperties"]["identificationHints"]["awsInstanceID"] for s in servers]
    assert len(ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]) >= 1
    more = add_source_servers(sim, "555555555555", "us-east-1", 2)
    assert len(set(more) | set(new)) == 7
    from moto.iam.models import iam_backends

    assert iam_backends["555555555555"]["global"].get_role(ROLE)
    with pytest.raises(FleetError, match="region"):
        add_source_servers(sim, PROD, "moon-1", 1)


def test_reverse_replicated_fleet_links_failback_servers(sim):
    fleet = load_fleet(
        {
            "accounts": [
                {
                    "accountId": PROD,
                    "regions": {
                        "us-east-1": {},  # reverse replication goes back into an initialized region
                        "us-west-2": {
                            "sourceServers": 6,
                            "ec2Backed": 0.5,
                            "originRegion": "us-east-1",
                            "recoveryInstances": 3,
                            "reverseReplicated": 2,
                        },
                    },
                }
            ]
        }
    )
    apply_fleet(fleet, sim, accounts_table=None, role_name=ROLE)
    failback = sim.source_servers(PROD, "us-east-1")
    originals = {s["arn"]: s for s in sim.source_servers(PROD, "us-west-2")}
    assert len(failback) == 2
    for s in failback:
        assert s["replicationDirection"] == "FAILBACK"
        assert originals[s["reversedDirectionSourceServerArn"]]["reversedDirectionSourceServerArn"] == s["arn"]
