"""IAM: what an assumed role may do in DRS and EC2, and whom a role trusts, by moto's policy evaluation.

``install_role_enforcement()`` makes moto answer as AWS does for every DRS and EC2 request signed with
credentials from STS AssumeRole (the product's fleet credentials): the request is allowed only if the
assumed role's policies (inline and attached) allow the action on the request's resources, evaluated by
moto's :class:`moto.iam.access_control.IAMPolicy` (explicit Deny wins; no Allow is a denial). A DRS
denial is 403 ``AccessDeniedException``, an EC2 one 403 ``UnauthorizedOperation``.

DRS jobs act with the caller's EC2 permissions (``aws:ViaAWSService`` true): the DRS request hands the
simulator a check of the caller's policies with only the statements that hold through a service
(:data:`sandbox.drs.jobs.CALLER`). A statement conditioned on ``aws:ViaAWSService`` applies only to that
kind of call; moto evaluates ``StringEquals`` conditions and treats other condition operators as met.

Not enforced: requests with the sandbox's own keys (the functions' identity and the operator's IAM users),
which stand for the product's roles whose policies the template tests check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .patching import installed_once

__all__ = ["assumed_role_policies", "caller_principal_arn", "install_role_enforcement", "is_allowed"]

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
VIA_SERVICE_KEY = "aws:viaawsservice"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _document(policy: Any) -> dict[str, Any]:
    if isinstance(policy, str):
        loaded: dict[str, Any] = json.loads(policy)
        return loaded
    versions = getattr(policy, "versions", None)
    if versions is not None:  # a managed policy: its default version
        return _document(next(v.document for v in versions if v.is_default))
    return _document(policy["policy_document"])


def _via_service_condition(statement: dict[str, Any]) -> bool | None:
    """``True``/``False`` when the statement holds only through (or only not through) a service."""
    for operator, clauses in (statement.get("Condition") or {}).items():
        if not operator.startswith("Bool") or not isinstance(clauses, dict):
            continue
        for key, value in clauses.items():
            if key.lower() == VIA_SERVICE_KEY:
                return str(_as_list(value)[0]).lower() == "true"
    return None


def _applicable(document: dict[str, Any], via_service: bool) -> str:
    statements = [s for s in _as_list(document.get("Statement")) if _via_service_condition(s) in (None, via_service)]
    return json.dumps({"Version": document.get("Version", "2012-10-17"), "Statement": statements})


def is_allowed(policies: list[Any], action: str, resources: list[str], *, via_service: bool = False) -> bool:
    """Whether the identity with ``policies`` may do ``action`` on every one of ``resources``."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    documents = [_applicable(_document(p), via_service) for p in policies]
    for resource in resources or ["*"]:
        permitted = False
        for document in documents:
            result = IAMPolicy(document).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return False
            permitted = permitted or result == PermissionResult.PERMITTED
        if not permitted:
            return False
    return True


def assumed_role_policies(account: str, headers: Any) -> tuple[str, list[Any]] | None:
    """(role ARN, its policies) when the request is signed with AssumeRole credentials in ``account``."""
    from moto.iam.access_control import AssumedRoleAccessKey, CreateAccessKeyFailure

    token = headers.get("X-Amz-Security-Token") or headers.get("x-amz-security-token")
    match = _CREDENTIAL.search(headers.get("Authorization") or headers.get("authorization") or "")
    if not token or match is None:
        return None
    try:
        key = AssumedRoleAccessKey(account, "aws", match.group(1), {"X-Amz-Security-Token": token})
        return key.arn, key.collect_policies()
    except (CreateAccessKeyFailure, KeyError, StopIteration):
        return None
    except Exception:  # the role was deleted after the session was made: it may do nothing
        return "", []


def caller_principal_arn(account: str, headers: Any) -> str | None:
    """``aws:PrincipalArn`` of the request's signer: the role of assumed-role credentials, the user of an IAM
    user's keys; ``None`` for the sandbox's shared keys (they stand for whichever product role is calling)."""
    from moto.iam.access_control import CreateAccessKeyFailure, IAMUserAccessKey

    assumed = assumed_role_policies(account, headers)
    if assumed is not None:
        role_name = assumed[0].split("/")[1] if assumed[0].count("/") >= 2 else ""
        return f"arn:aws:iam::{account}:role/{role_name}"
    match = _CREDENTIAL.search(headers.get("Authorization") or headers.get("authorization") or "")
    if match is None or not match.group(1).startswith("AKIA"):
        return None
    try:
        return str(IAMUserAccessKey(account, "aws", match.group(1), dict(headers)).arn)
    except (CreateAccessKeyFailure, KeyError):
        return None


# ------------------------------------------------------------------------------------- DRS
def _drs_resources(
    operation: str, region: str, account: str, params: dict[str, Any], labels: dict[str, str]
) -> list[str]:
    """The resource ARNs IAM checks for a DRS operation (``*`` where the action has no resource type)."""
    from sandbox.drs import ids

    def arn(kind: str, rid: str) -> str:
        return ids.make_arn(region, account, kind, rid)

    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [labels.get("resourceArn") or params.get("resourceArn") or "*"]
    if operation == "TerminateRecoveryInstances":
        return [arn("recovery-instance", r) for r in params.get("recoveryInstanceIDs") or []]
    if operation == "StartRecovery":
        return [arn("source-server", s.get("sourceServerID", "")) for s in params.get("sourceServers") or []]
    if operation == "DescribeJobLogItems":
        return [arn("job", str(params.get("jobID", "")))]
    if "sourceServerID" in params and operation not in ("DescribeSourceServers",):
        return [arn("source-server", str(params["sourceServerID"]))]
    return ["*"]


def _drs_denied(operation: str, role_arn: str, resource: str) -> tuple[int, dict[str, str], bytes]:
    from sandbox.drs.errors import DrsError

    message = (
        f"User: {role_arn} is not authorized to perform: drs:{operation} on resource: {resource} "
        "because no identity-based policy allows the drs:" + operation + " action"
    )
    return DrsError("AccessDeniedException", message).response({"Content-Type": "application/json"})


def _patch_drs() -> Callable[[], None]:
    from urllib.parse import unquote, urlsplit

    from sandbox.drs import jobs, shapes
    from sandbox.drs.moto_plugin import DRSResponse

    original = DRSResponse._dispatch

    def dispatch(self: DRSResponse, request: Any, full_url: str | None = None, headers: Any = None) -> Any:
        self.setup_class(request, full_url, headers, use_raw_body=True)
        caller = assumed_role_policies(self.current_account, self.headers)
        if caller is None:
            return original(self, request, full_url, headers)
        role_arn, policies = caller
        raw_path = getattr(request, "raw_path", None) or urlsplit(full_url or "").path or "/"
        found = shapes.route(self.method, raw_path)
        if found is not None:
            operation, labels = found
            labels = {k: unquote(v) for k, v in labels.items()}
            params = _json_body(self.raw_body)
            resources = _drs_resources(operation, self.region, self.current_account, params, labels)
            for resource in resources:
                if not is_allowed(policies, f"drs:{operation}", [resource]):
                    return _drs_denied(operation, role_arn, resource)

        def through_drs(action: str, resource: str) -> bool:
            return is_allowed(policies, action, [resource], via_service=True)

        token = jobs.CALLER.set(through_drs)
        try:
            return original(self, request, full_url, headers)
        finally:
            jobs.CALLER.reset(token)

    DRSResponse._dispatch = dispatch  # type: ignore[method-assign]

    def undo() -> None:
        DRSResponse._dispatch = original  # type: ignore[method-assign]

    return undo


def _json_body(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        loaded = json.loads(body or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


# ------------------------------------------------------------------------------------- EC2
_INSTANCE_ACTIONS = ("TerminateInstances", "StopInstances", "StartInstances", "RebootInstances")


def _ec2_resources(action: str, region: str, account: str, querystring: dict[str, list[str]]) -> list[str]:
    if action in _INSTANCE_ACTIONS:
        ids = [v[0] for k, v in querystring.items() if k.startswith("InstanceId.")]
        return [f"arn:aws:ec2:{region}:{account}:instance/{i}" for i in ids] or ["*"]
    return ["*"]


def _patch_ec2() -> Callable[[], None]:
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.responses import EC2Response

    original = EC2Response.call_action

    def call_action(self: EC2Response) -> Any:
        caller = assumed_role_policies(self.current_account, self.headers)
        if caller is not None:
            role_arn, policies = caller
            action = self._get_action()
            for resource in _ec2_resources(action, self.region, self.current_account, self.querystring):
                if not is_allowed(policies, f"ec2:{action}", [resource]):
                    error = EC2ClientError(
                        "UnauthorizedOperation",
                        f"You are not authorized to perform this operation. User: {role_arn} is not authorized "
                        f"to perform: ec2:{action} on resource: {resource} because no identity-based policy "
                        f"allows the ec2:{action} action",
                    )
                    _, headers, body = self.serialized(ActionResult(error))
                    return 403, headers, body  # EC2 answers UnauthorizedOperation with 403
        return original(self)

    EC2Response.call_action = call_action  # type: ignore[assignment,method-assign]

    def undo() -> None:
        EC2Response.call_action = original  # type: ignore[method-assign]

    return undo


@installed_once
def install_role_enforcement() -> Callable[[], None]:
    """Enforce assumed roles' policies on DRS and EC2 (idempotent); returns a function that removes it."""
    undo_drs = _patch_drs()
    undo_ec2 = _patch_ec2()

    def undo() -> None:
        undo_ec2()
        undo_drs()

    return undo
