"""SigV4 as API Gateway checks it for an AWS_IAM method: who signed a request, or the 403 it gets instead.

`verify(request, region, now)` recomputes the signature with botocore's own SigV4 code over exactly the
headers the request says it signed, with the secret moto holds for its access key: an IAM user's key or
STS temporary credentials (whose session token must come with them). The answer is the signer (`Caller`) or a
`Refusal` with API Gateway's status, `x-amzn-ErrorType` and message: no Authorization header is "Missing
Authentication Token"; a header that is not SigV4, or lacks a part, is IncompleteSignature; a scope for
another service or region, a date more than 5 minutes off, or a signature that does not match is
InvalidSignature; a key moto does not know is UnrecognizedClient. The time is the real one: clients sign
with it, whatever the sandbox clock reads.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass
from typing import Any

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=5)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105  # nosec B105  # a message
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class Caller:
    """The IAM identity a valid signature proves, as API Gateway puts it in requestContext.identity."""

    access_key: str
    account: str
    arn: str  # userArn: arn:aws:iam::A:user/N or arn:aws:sts::A:assumed-role/R/S
    caller: str  # AIDA... for a user, AROA...:session for a role session


def request_identity(caller: Caller | None, user_agent: str, source_ip: str) -> dict[str, Any]:
    """requestContext.identity of an IAM-signed request (its verified signer) or of an unsigned one."""
    return {
        "accountId": caller.account if caller else None,
        "caller": caller.caller if caller else None,
        "user": caller.caller if caller else None,
        "userArn": caller.arn if caller else None,
        "accessKey": caller.access_key if caller else None,
        "sourceIp": source_ip,
        "userAgent": user_agent,
        "principalOrgId": None,
        "cognitoIdentityPoolId": None,
        "cognitoIdentityId": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
    }


@dataclass(frozen=True)
class Refusal:
    """What API Gateway answers instead of calling the integration."""

    status: int
    error_type: str
    message: str

    @property
    def body(self) -> dict[str, str]:
        return {"message": self.message}


MISSING_TOKEN = Refusal(403, "MissingAuthenticationTokenException", "Missing Authentication Token")


@dataclass(frozen=True)
class SignedRequest:
    """What the signature covers: the method, the path as sent (decoded), the raw query, headers, body."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names as sent; compared case-insensitively
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class _Secret:
    secret: str
    token: str | None
    caller: Caller


def _parts(authorization: str) -> dict[str, str]:
    fields = authorization[len(ALGORITHM) :].strip()
    return {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in re.split(r",\s*", fields)) if k}


def _incomplete(authorization: str, parts: dict[str, str], amz_date: str | None) -> Refusal | None:
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if name not in parts
    ]
    if amz_date is None:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if not missing:
        return None
    return Refusal(403, "IncompleteSignatureException", " ".join(missing) + f" Authorization={authorization}")


def _scope_refusal(scope: list[str], region: str, amz_date: str, now: dt.datetime) -> Refusal | None:
    def invalid(message: str) -> Refusal:
        return Refusal(403, "InvalidSignatureException", message)

    if len(scope) != 5 or scope[4] != "aws4_request":
        return invalid(f"Credential should be scoped to a valid region, not '{'/'.join(scope[2:3])}'. ")
    if scope[3] != SERVICE:
        return invalid(f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if scope[2] != region:
        return invalid(f"Credential should be scoped to a valid region, not '{scope[2]}'. ")
    try:
        signed_at = dt.datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=dt.UTC)
    except ValueError:
        return invalid(
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
        )
    if scope[1] != amz_date[:8]:
        return invalid(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope[1]}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if signed_at < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(_AMZ_DATE)
        return invalid(f"Signature expired: {amz_date} is now earlier than {earliest} ({now:{_AMZ_DATE}} - 5 min.)")
    if signed_at > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(_AMZ_DATE)
        return invalid(
            f"Signature not yet current: {amz_date} is still later than {latest} ({now:{_AMZ_DATE}} + 5 min.)"
        )
    return None


def _expected(
    request: SignedRequest, signed: list[str], secret: _Secret, region: str, amz_date: str
) -> tuple[str, str, str]:
    """(signature, canonical request, string to sign) as botocore computes them for these signed headers."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.compat import HTTPHeaders
    from botocore.credentials import Credentials

    class _Verifier(SigV4Auth):
        def headers_to_sign(self, _request: Any) -> HTTPHeaders:
            chosen = HTTPHeaders()
            for name in signed:
                chosen[name] = request.header(name) or ""
            return chosen

    query = f"?{request.query}" if request.query else ""
    headers = dict(request.headers)
    aws_request = AWSRequest(request.method, f"http://host{request.path}{query}", data=request.body, headers=headers)
    aws_request.context["timestamp"] = amz_date
    signer = _Verifier(Credentials(secret.caller.access_key, secret.secret, secret.token), SERVICE, region)
    canonical = signer.canonical_request(aws_request)
    to_sign = signer.string_to_sign(aws_request, canonical)
    return signer.signature(to_sign, aws_request), canonical, to_sign


def verify(request: SignedRequest, region: str, now: dt.datetime | None = None) -> Caller | Refusal:
    """The signer of `request`, or API Gateway's refusal."""
    authorization = request.header("Authorization")
    if not authorization:
        return MISSING_TOKEN
    amz_date = request.header("X-Amz-Date")
    if not authorization.startswith(ALGORITHM + " "):
        return Refusal(
            403,
            "IncompleteSignatureException",
            f"Authorization header requires 'Credential' parameter. "
            f"Authorization header requires 'Signature' parameter. Authorization header requires "
            f"'SignedHeaders' parameter. Authorization={authorization}",
        )
    parts = _parts(authorization)
    incomplete = _incomplete(authorization, parts, amz_date)
    if incomplete is not None or amz_date is None:
        return incomplete or MISSING_TOKEN
    scope = parts["Credential"].split("/")
    refused = _scope_refusal(scope, region, amz_date, now or dt.datetime.now(dt.UTC))
    if refused is not None:
        return refused
    signed = [h.strip().lower() for h in parts["SignedHeaders"].split(";") if h.strip()]
    if "host" not in signed:
        return Refusal(
            403,
            "InvalidSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    secret = _secret_of(scope[0])
    if secret is None or (secret.token is not None and request.header("X-Amz-Security-Token") != secret.token):
        return Refusal(403, "UnrecognizedClientException", INVALID_TOKEN)
    signature, canonical, to_sign = _expected(request, signed, secret, region, amz_date)
    if not hmac.compare_digest(signature, parts["Signature"]):
        detail = (
            f"\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{to_sign}'\n"
        )
        return Refusal(403, "InvalidSignatureException", MISMATCH + detail)
    return secret.caller


def _secret_of(access_key: str) -> _Secret | None:
    """The secret (and session token) moto holds for an access key, with the identity it belongs to."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for account in list(sts_backends):
        for backend in sts_backends[account].values():
            role = backend.get_assumed_role_from_access_key(access_key)
            if role is not None:
                caller = Caller(access_key, role.account_id, role.arn, role.user_id)
                return _Secret(role.secret_access_key, role.session_token, caller)
    for account in list(iam_backends):
        for iam in iam_backends[account].values():
            user = iam.get_user_from_access_key_id(access_key)
            if user is None:
                continue
            key = next(k for k in user.access_keys if k.access_key_id == access_key)
            if key.status != "Active":
                return None
            return _Secret(key.secret_access_key, None, Caller(access_key, user.account_id, user.arn, user.id))
    return None


def caller_of(access_key: str) -> Caller | None:
    """The identity moto holds for an access key (the sandbox's own in-process requests sign as this)."""
    secret = _secret_of(access_key)
    return secret.caller if secret else None
