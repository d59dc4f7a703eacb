"""The API's OpenAPI document, built from the two resolvers (what the functions really validate).

`openapi/openapi.json` in the repository is this document; `tests/api/test_openapi.py` fails when they
differ. Regenerate it with:

    PYTHONPATH=functions/shared .venv/bin/python -m fleet_sync.api.openapi > openapi/openapi.json

Each operation names the function that serves it (`x-fleet-sync-function`); the template's Api events must
route it there (checked by the tests, and used by `Sandbox.api`).
"""

from __future__ import annotations

import json
from typing import Any

from . import manage, query

TITLE = "DRS Fleet Sync API"
VERSION = "1.0.0"
STAGE = "v1"
FUNCTIONS = {"query": "QueryApiFunction", "manage": "ManageApiFunction"}
# Powertools' own validation-error schemas: the functions answer 400 with ErrorResponse instead of 422.
DROPPED_SCHEMAS = {"HTTPValidationError", "ValidationError", "ResponseValidationError"}
DESCRIPTION = """\
Queries and operations of DRS Fleet Sync. Every route is authorized by IAM (API Gateway AWS_IAM): sign
requests with SigV4 (service `execute-api`); the caller needs `execute-api:Invoke` on the route. Read-only
routes are served by the query function, whose role cannot write; everything that writes or starts work by
the manage function, which API Gateway alone invokes.
Errors are `{"error", "message", "errors"?: [{"field", "in", "reason"}]}`.
See docs/api.md."""
FORBIDDEN = {
    "description": "API Gateway: the request is not signed with SigV4, or the caller may not invoke this route",
}
UNSUPPORTED_MEDIA_TYPE = {
    "description": "the body is not JSON: any Content-Type but application/json (any case, any parameters)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}
SERVER_ERROR = {
    "description": "unexpected failure (logged with its requestId); 503 when AWS throttled the request",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}


def _documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (FUNCTIONS["query"], json.loads(query.app.get_openapi_json_schema(title=TITLE, version=VERSION))),
        (FUNCTIONS["manage"], json.loads(manage.app.get_openapi_json_schema(title=TITLE, version=VERSION))),
    ]


def build_openapi() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    tags: set[str] = set()
    for function, doc in _documents():
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                if method in paths.get(path, {}):
                    raise ValueError(f"{method.upper()} {path} is routed by both resolvers")
                operation["responses"].pop("422", None)
                operation["responses"]["403"] = FORBIDDEN
                if method in ("post", "put", "patch"):
                    operation["responses"]["415"] = UNSUPPORTED_MEDIA_TYPE
                operation["responses"]["500"] = SERVER_ERROR
                operation["x-fleet-sync-function"] = function
                tags.update(operation.get("tags", []))
                paths.setdefault(path, {})[method] = operation
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            if name in DROPPED_SCHEMAS:
                continue
            if name in schemas and schemas[name] != schema:
                raise ValueError(f"schema {name} differs between the resolvers")
            schemas[name] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [
            {
                "url": "https://{restApiId}.execute-api.{region}.amazonaws.com/" + STAGE,
                "variables": {
                    "restApiId": {"default": "restApiId", "description": "the stack output ApiId"},
                    "region": {"default": "us-east-1"},
                },
            }
        ],
        "security": [{"sigv4": []}],
        "tags": [{"name": t} for t in sorted(tags)],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "AWS Signature Version 4 (API Gateway AWS_IAM authorization)",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                }
            },
        },
    }


def routes(document: dict[str, Any] | None = None) -> dict[tuple[str, str], str]:
    """(METHOD, /path/{param}) -> the function that serves it."""
    document = document or build_openapi()
    return {
        (method.upper(), path): op["x-fleet-sync-function"]
        for path, operations in document["paths"].items()
        for method, op in operations.items()
    }


def render(document: dict[str, Any] | None = None) -> str:
    return json.dumps(document or build_openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # pragma: no cover - the regeneration command above
    print(render(), end="")
