"""STS: AssumeRole answers AccessDenied as AWS does when the role is missing or its trust policy refuses
(the ExternalId, or the session tags the request passes without the trust allowing sts:TagSession).

``install_sts_external_id_check()``: moto's STS ``AssumeRole`` hands out credentials for any role ARN,
even one that does not exist. Real AWS answers ``AccessDenied`` (403) when

* the role does not exist in the target account, or
* the role's trust policy allows ``sts:AssumeRole`` only with a ``StringEquals`` ``sts:ExternalId``
  condition the call's ``ExternalId`` does not satisfy (missing or different).

With the patch installed moto does the same, so a product that forgets an account's ExternalId (or
hard-codes one) fails in the sandbox as it would in AWS. The trust policy's principals and conditions are
then evaluated by moto's :class:`moto.iam.access_control.IAMPolicy`, with the caller's account as the
principal (``arn:aws:iam::<caller account>:root``, so a role trusting an account trusts its principals)
and the caller's ``aws:PrincipalArn`` where it is known (:func:`sandbox.moto_patches.iam.caller_principal_arn`:
assumed roles and IAM users; not the sandbox's shared keys). A role that trusts only services (no ``AWS``
principal) cannot be assumed by a caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .patching import installed_once

__all__ = ["external_id_allowed", "install_sts_external_id_check", "trust_allows"]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _allows_assume_role(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    actions = [a.lower() for a in _as_list(statement.get("Action"))]
    return any(a in ("sts:assumerole", "sts:*", "*") for a in actions)


def external_id_allowed(trust_policy: str | dict[str, Any], external_id: str | None) -> bool:
    """Whether a trust policy lets a caller with ``external_id`` assume the role (ExternalId rules only).

    Some ``Allow`` statement for ``sts:AssumeRole`` must have every ``sts:ExternalId`` condition
    satisfied: ``StringEquals`` (value or list of values); ``StringLike`` with ``*``/``?`` wildcards.
    """
    policy = json.loads(trust_policy) if isinstance(trust_policy, str) else trust_policy
    for statement in _as_list(policy.get("Statement")):
        if not isinstance(statement, dict) or not _allows_assume_role(statement):
            continue
        if _conditions_met(statement.get("Condition") or {}, external_id):
            return True
    return False


def _conditions_met(conditions: dict[str, Any], external_id: str | None) -> bool:
    import fnmatch

    for operator, clauses in conditions.items():
        if not isinstance(clauses, dict):
            continue
        for key, expected in clauses.items():
            if key.lower() != "sts:externalid":
                continue
            values = [str(v) for v in _as_list(expected)]
            if external_id is None:
                return False
            if operator == "StringEquals" and external_id not in values:
                return False
            if operator == "StringLike" and not any(fnmatch.fnmatchcase(external_id, v) for v in values):
                return False
    return True


def trust_allows(
    trust_policy: str, role_arn: str, caller_account: str, principal_arn: str | None, external_id: str | None
) -> bool:
    """Whether the trust policy lets this caller assume the role (moto's evaluation of principal and conditions)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    policy = json.loads(trust_policy)
    statements = _as_list(policy.get("Statement"))
    if not any(isinstance(s, dict) and "AWS" in (s.get("Principal") or {}) for s in statements):
        return False  # only services may assume it
    values: dict[str, str] = {}
    if external_id is not None:
        values["sts:ExternalId"] = external_id
    if principal_arn is not None:
        values["aws:PrincipalArn"] = principal_arn
    result = IAMPolicy(trust_policy).is_action_permitted(
        "sts:AssumeRole", role_arn, f"arn:aws:iam::{caller_account}:root", values
    )
    return bool(result == PermissionResult.PERMITTED)


def _request_tag_keys(response: Any) -> list[str]:
    """The keys of the request's session tags."""
    tags = response._get_param("Tags")
    if isinstance(tags, list):
        return [str(t.get("Key")) for t in tags if isinstance(t, dict)]
    keys = []  # the query protocol's flat form, when moto has not parsed it
    for n in range(1, 51):
        key = response._get_param(f"Tags.member.{n}.Key")
        if key is None:
            break
        keys.append(str(key))
    return keys


def session_tags_allowed(trust_policy: str | dict[str, Any], tag_keys: list[str]) -> bool:
    """Whether the trust policy allows ``sts:TagSession`` with these tag keys, as AWS requires for an
    AssumeRole that passes session tags: an Allow for the action whose ``aws:TagKeys`` condition
    (``ForAllValues:StringEquals``, when present) lists every key."""
    policy = json.loads(trust_policy) if isinstance(trust_policy, str) else trust_policy
    for statement in _as_list(policy.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [a.lower() for a in _as_list(statement.get("Action"))]
        if not any(a in ("sts:tagsession", "sts:*", "*") for a in actions):
            continue
        allowed = ((statement.get("Condition") or {}).get("ForAllValues:StringEquals") or {}).get("aws:TagKeys")
        if allowed is None or set(tag_keys) <= set(_as_list(allowed)):
            return True
    return False


@installed_once
def install_sts_external_id_check() -> Callable[[], None]:
    """Patch moto's STS AssumeRole (idempotent); returns a function that removes the patch."""
    from moto.core.exceptions import AccessDeniedError
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends
    from moto.sts.responses import TokenResponse
    from moto.utilities.utils import get_partition

    from .iam import caller_principal_arn

    original = TokenResponse.assume_role

    def assume_role(self: TokenResponse) -> Any:
        role_arn = self._get_param("RoleArn") or ""
        external_id = self._get_param("ExternalId")
        parts = role_arn.split(":")
        account = parts[4] if len(parts) > 5 else ""
        caller = f"arn:{self.partition}:iam::{self.current_account}:user/moto"
        denied = AccessDeniedError(user_arn=caller, action=f"sts:AssumeRole on resource: {role_arn}")
        if not account:
            raise denied
        try:
            role = iam_backends[account][get_partition(self.region)].get_role_by_arn(role_arn)
        except NotFoundException:
            raise denied from None
        if not external_id_allowed(role.assume_role_policy_document, external_id):
            raise denied
        principal_arn = caller_principal_arn(self.current_account, self.headers)
        if not trust_allows(
            role.assume_role_policy_document, role_arn, self.current_account, principal_arn, external_id
        ):
            raise denied
        tag_keys = _request_tag_keys(self)
        if tag_keys and not session_tags_allowed(role.assume_role_policy_document, tag_keys):
            raise AccessDeniedError(user_arn=caller, action=f"sts:TagSession on resource: {role_arn}")
        return original(self)

    TokenResponse.assume_role = assume_role  # type: ignore[method-assign]

    def undo() -> None:
        TokenResponse.assume_role = original  # type: ignore[method-assign]

    return undo
