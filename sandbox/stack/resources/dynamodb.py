"""AWS::DynamoDB::Table, created as declared and read back: what the product relies on must be there."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..model import DeployContext, DeployError, Resource, tags_list

_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


def create_table(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    ddb = d.client("dynamodb")
    name = d.name_for(p, "TableName", lid, 255)
    for key in ("ContributorInsightsSpecification", "KinesisStreamSpecification", "ResourcePolicy"):
        if key in p:
            d.note(f"{lid}: {key} is not applied in the sandbox")
    desc = ddb.create_table(**_create_arguments(name, p))["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    problems = _differences(ddb, name, p)
    if problems:
        raise DeployError(f"table {lid} was not created as declared: {'; '.join(problems)}")
    attrs = {"Arn": desc["TableArn"]}
    if desc.get("LatestStreamArn"):
        attrs["StreamArn"] = desc["LatestStreamArn"]
    return Resource(lid, "AWS::DynamoDB::Table", name, attrs)


def _create_arguments(name: str, p: dict[str, Any]) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
    }
    if kw["BillingMode"] == "PROVISIONED":
        kw["ProvisionedThroughput"] = p.get("ProvisionedThroughput") or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    if p.get("GlobalSecondaryIndexes"):
        kw["GlobalSecondaryIndexes"] = [{k: g[k] for k in _INDEX_KEYS if k in g} for g in p["GlobalSecondaryIndexes"]]
    if p.get("LocalSecondaryIndexes"):
        kw["LocalSecondaryIndexes"] = [{k: g[k] for k in _INDEX_KEYS[:3] if k in g} for g in p["LocalSecondaryIndexes"]]
    if p.get("SSESpecification"):
        sse = p["SSESpecification"]
        kw["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))} | {
            key: sse[key] for key in ("SSEType", "KMSMasterKeyId") if sse.get(key)
        }
    if p.get("StreamSpecification"):
        kw["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
    for key in ("TableClass", "DeletionProtectionEnabled"):
        if key in p:
            kw[key] = p[key]
    if p.get("Tags"):
        kw["Tags"] = tags_list(p["Tags"])
    return kw


def _keys(schema: Iterable[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def _indexes(declared: list[dict[str, Any]] | None) -> dict[str, tuple[list[tuple[str, str]], str]]:
    return {g["IndexName"]: (_keys(g["KeySchema"]), g["Projection"]["ProjectionType"]) for g in declared or []}


def _differences(ddb: Any, name: str, p: dict[str, Any]) -> list[str]:
    """What the created table lacks of its declaration: keys, attributes, indexes, TTL, PITR, SSE."""
    table = ddb.describe_table(TableName=name)["Table"]
    problems = []
    if _keys(table["KeySchema"]) != _keys(p["KeySchema"]):
        problems.append(f"key schema {table['KeySchema']}")
    want_attrs = {(a["AttributeName"], a["AttributeType"]) for a in p["AttributeDefinitions"]}
    got_attrs = {(a["AttributeName"], a["AttributeType"]) for a in table.get("AttributeDefinitions", [])}
    if want_attrs != got_attrs:
        problems.append(f"attributes {sorted(got_attrs)}")
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        want, got = _indexes(p.get(kind)), _indexes(table.get(kind))
        if want != got:
            problems.append(f"{kind} {got}")
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        got_ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if got_ttl.get("TimeToLiveStatus") != "ENABLED" or got_ttl.get("AttributeName") != ttl["AttributeName"]:
            problems.append(f"TTL {got_ttl}")
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        if backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] != "ENABLED":
            problems.append("point-in-time recovery disabled")
    sse = p.get("SSESpecification")
    if sse and sse.get("SSEEnabled") and (table.get("SSEDescription") or {}).get("Status") != "ENABLED":
        problems.append(f"SSE {table.get('SSEDescription')}")
    return problems
