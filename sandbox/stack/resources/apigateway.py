"""AWS::ApiGateway::RestApi, ::Deployment and ::Stage, in moto's API Gateway.

SAM writes a REST API as a Swagger 2.0 `Body`, which moto's ImportRestApi does not take (OpenAPI 3 only): the
resources, methods (with their authorization type) and Lambda proxy integrations are created from it one
call at a time, as CloudFormation's import would. What a request to the stage does is `sandbox.api`'s:
moto's API Gateway holds what `get-rest-apis`, `get-resources` and `get-stages` answer.
"""

from __future__ import annotations

from typing import Any

from ..model import DeployContext, DeployError, Resource, tags_dict

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method")


def _authorization(operation: dict[str, Any], body: dict[str, Any]) -> str:
    """AWS_IAM when the operation's security names a SigV4 scheme, else NONE."""
    schemes = body.get("securityDefinitions") or {}
    for requirement in operation.get("security") or []:
        for name in requirement:
            if (schemes.get(name) or {}).get("x-amazon-apigateway-authtype") == "awsSigv4":
                return "AWS_IAM"
    return "NONE"


def _resource_ids(client: Any, api_id: str, paths: list[str]) -> dict[str, str]:
    """Create every resource the paths need (parents first); path -> resource id."""
    existing = client.get_resources(restApiId=api_id, limit=500)["items"]
    ids = {item["path"]: item["id"] for item in existing}
    for path in sorted(paths, key=lambda p: p.count("/")):
        parts = [p for p in path.split("/") if p]
        for depth in range(1, len(parts) + 1):
            here = "/" + "/".join(parts[:depth])
            if here not in ids:
                parent = "/" + "/".join(parts[: depth - 1])
                made = client.create_resource(restApiId=api_id, parentId=ids[parent], pathPart=parts[depth - 1])
                ids[here] = made["id"]
    return ids


def _put_methods(client: Any, api_id: str, body: dict[str, Any]) -> None:
    paths = body.get("paths") or {}
    ids = _resource_ids(client, api_id, list(paths))
    for path, operations in paths.items():
        for verb, operation in operations.items():
            if verb not in _METHODS:
                continue
            method = "ANY" if verb == "x-amazon-apigateway-any-method" else verb.upper()
            resource = ids[path]
            client.put_method(
                restApiId=api_id,
                resourceId=resource,
                httpMethod=method,
                authorizationType=_authorization(operation, body),
            )
            integration = operation.get("x-amazon-apigateway-integration") or {}
            if integration:
                client.put_integration(
                    restApiId=api_id,
                    resourceId=resource,
                    httpMethod=method,
                    type=str(integration.get("type", "aws_proxy")).upper(),
                    integrationHttpMethod=str(integration.get("httpMethod", "POST")),
                    uri=str(integration.get("uri", "")),
                )


def create_rest_api(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    body = p.get("Body")
    if body is not None and not isinstance(body, dict):
        raise DeployError(f"{lid}: the sandbox reads an inline Body (a mapping), not {type(body).__name__}")
    name = str(p.get("Name") or (body or {}).get("info", {}).get("title") or lid)
    kw: dict[str, Any] = {"name": name}
    if p.get("Description"):
        kw["description"] = str(p["Description"])
    if p.get("EndpointConfiguration"):
        kw["endpointConfiguration"] = {"types": list(p["EndpointConfiguration"].get("Types") or ["EDGE"])}
    if p.get("Tags"):
        kw["tags"] = tags_dict(p["Tags"])
    client = d.client("apigateway")
    api = client.create_rest_api(**kw)
    if body:
        _put_methods(client, api["id"], body)
    return Resource(lid, "AWS::ApiGateway::RestApi", api["id"], {"RootResourceId": api.get("rootResourceId", "")})


def create_api_deployment(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    kw: dict[str, Any] = {"restApiId": str(p["RestApiId"])}
    if p.get("StageName"):  # CloudFormation makes this stage too (SAM's "Stage")
        kw["stageName"] = str(p["StageName"])
    if p.get("Description"):
        kw["description"] = str(p["Description"])
    made = d.client("apigateway").create_deployment(**kw)
    return Resource(lid, "AWS::ApiGateway::Deployment", made["id"])


def create_api_stage(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    api_id, stage = str(p["RestApiId"]), str(p["StageName"])
    kw: dict[str, Any] = {"restApiId": api_id, "stageName": stage, "deploymentId": str(p["DeploymentId"])}
    if p.get("Description"):
        kw["description"] = str(p["Description"])
    if "TracingEnabled" in p:
        kw["tracingEnabled"] = str(p["TracingEnabled"]).lower() == "true"
    if p.get("Variables"):
        kw["variables"] = {str(k): str(v) for k, v in p["Variables"].items()}
    if p.get("Tags"):
        kw["tags"] = tags_dict(p["Tags"])
    d.client("apigateway").create_stage(**kw)
    return Resource(lid, "AWS::ApiGateway::Stage", stage)
