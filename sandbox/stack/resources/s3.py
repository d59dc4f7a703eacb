"""AWS::S3::Bucket with its encryption, public access block, versioning, lifecycle and tags."""

from __future__ import annotations

from typing import Any

from ..model import DeployContext, Resource, tags_list


def create_bucket(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    s3 = d.client("s3")
    name = d.name_for(p, "BucketName", lid, 63, lower=True)
    kw: dict[str, Any] = {"Bucket": name}
    if d.region != "us-east-1":
        kw["CreateBucketConfiguration"] = {"LocationConstraint": d.region}
    s3.create_bucket(**kw)
    enc = p.get("BucketEncryption")
    if enc:
        rules = [_encryption_rule(rule) for rule in enc["ServerSideEncryptionConfiguration"]]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if p.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
    if p.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=p["VersioningConfiguration"])
    if p.get("LifecycleConfiguration"):
        rules = [_lifecycle_rule(r) for r in p["LifecycleConfiguration"].get("Rules", [])]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    if p.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags_list(p["Tags"])})
    for key in ("NotificationConfiguration", "ReplicationConfiguration", "WebsiteConfiguration", "CorsConfiguration"):
        if key in p:
            d.note(f"{lid}: {key} is not applied in the sandbox")
    attrs = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{d.region}.amazonaws.com",
    }
    return Resource(lid, "AWS::S3::Bucket", name, attrs)


def _encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    api_rule = {k: v for k, v in rule.items() if k != "ServerSideEncryptionByDefault"}
    if "ServerSideEncryptionByDefault" in rule:
        api_rule["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
    return api_rule


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "ExpirationDate" in rule:
        out["Expiration"] = {"Date": rule["ExpirationDate"]}
    if "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return out
