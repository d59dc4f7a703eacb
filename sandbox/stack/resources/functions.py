"""AWS::Lambda::LayerVersion, ::Function and ::Permission. The code stays in the repository: moto gets a
placeholder zip and sandbox.local_lambda runs the local directory in-process."""

from __future__ import annotations

from typing import Any

from ..model import DeployContext, DeployError, Resource, env_text, placeholder_zip, tags_dict

_FUNCTION_KEYS = (
    "Runtime",
    "Handler",
    "Description",
    "Timeout",
    "MemorySize",
    "TracingConfig",
    "Architectures",
    "Layers",
    "EphemeralStorage",
    "LoggingConfig",
    "DeadLetterConfig",
    "KmsKeyArn",
)


def create_layer(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    content = p.get("Content") or {}
    local = d.t.local_artifact(content.get("S3Bucket"), content.get("S3Key"))
    name = str(p.get("LayerName") or lid)
    kw: dict[str, Any] = {"LayerName": name, "Content": {"ZipFile": placeholder_zip()}}
    for key in ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
        if key in p:
            kw[key] = p[key]
    arn = d.client("lambda").publish_layer_version(**kw)["LayerVersionArn"]
    if local is None:
        d.note(f"{lid}: layer content is not a local directory, so nothing of it is importable in the sandbox")
    return Resource(lid, "AWS::Lambda::LayerVersion", arn, {"LayerVersionArn": arn}, local_path=local)


def create_function(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    lam = d.client("lambda")
    name = d.name_for(p, "FunctionName", lid, 64)
    code = p.get("Code") or {}
    local = d.t.local_artifact(code.get("S3Bucket"), code.get("S3Key"))
    inline = code.get("ZipFile")
    if local is None and inline is None:
        raise DeployError(f"{lid}: the sandbox runs functions from a local CodeUri or InlineCode, got {code}")
    env = {k: env_text(v) for k, v in ((p.get("Environment") or {}).get("Variables") or {}).items()}
    kw: dict[str, Any] = {"FunctionName": name, "Role": p["Role"], "Code": {"ZipFile": placeholder_zip()}}
    kw.update({"PackageType": "Zip", **{key: p[key] for key in _FUNCTION_KEYS if key in p}})
    for key in ("Timeout", "MemorySize"):
        if key in kw:
            kw[key] = int(kw[key])
    if env:
        kw["Environment"] = {"Variables": env}
    if p.get("Tags"):
        kw["Tags"] = tags_dict(p["Tags"])
    conf = lam.create_function(**kw)
    if "ReservedConcurrentExecutions" in p:
        lam.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=int(p["ReservedConcurrentExecutions"])
        )
    attrs = {
        "Arn": conf["FunctionArn"],
        "Environment": env,
        "Handler": p.get("Handler", ""),
        "Runtime": p.get("Runtime", ""),
        "Timeout": int(p.get("Timeout", 3)),
        "MemorySize": int(p.get("MemorySize", 128)),
        "Layers": list(p.get("Layers") or []),
    }
    if inline is not None and local is None:
        attrs["InlineCode"] = inline
    return Resource(lid, "AWS::Lambda::Function", name, attrs, local_path=local)


def create_permission(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    kw: dict[str, Any] = {
        "FunctionName": p["FunctionName"],
        "StatementId": lid,
        "Action": p["Action"],
        "Principal": p["Principal"],
    }
    for key in ("SourceArn", "SourceAccount", "EventSourceToken", "PrincipalOrgID", "FunctionUrlAuthType"):
        if key in p:
            kw[key] = p[key]
    d.client("lambda").add_permission(**kw)
    return Resource(lid, "AWS::Lambda::Permission", lid)
