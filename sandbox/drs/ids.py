"""Identifiers, ARNs and the account/region a SigV4 request belongs to.

Every generator takes the ``random.Random`` to draw from, so a seeded generator gives the same ids on
every run. Formats follow the botocore model patterns (``s-`` + 17, ``i-`` + 17 hex, ``drsjob-`` + 17 ...).
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import string
from datetime import datetime, timedelta
from typing import NamedTuple

from . import clock

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
_HEX = "0123456789abcdef"
_ALNUM = string.ascii_letters + string.digits
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


def _draw(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def source_server_id(rng: random.Random) -> str:
    """``s-`` + 17 hex characters (the model allows alphanumerics; AWS uses hex)."""
    return "s-" + _draw(rng, _HEX, 17)


def ec2_instance_id(rng: random.Random) -> str:
    return "i-" + _draw(rng, _HEX, 17)


def ebs_volume_id(rng: random.Random) -> str:
    # The model caps EbsVolumeID at 19 characters although real ids are vol- + 17 hex (21).
    return "vol-" + _draw(rng, _HEX, 15)


def job_id(rng: random.Random) -> str:
    return "drsjob-" + _draw(rng, _ALNUM, 17)


def template_id(rng: random.Random) -> str:
    return "rct-" + _draw(rng, _ALNUM, 17)


def launch_template_id(rng: random.Random) -> str:
    return "lt-" + _draw(rng, _HEX, 17)


def request_id(rng: random.Random) -> str:
    h = _draw(rng, _HEX, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def mac_address(rng: random.Random) -> str:
    return "0a:" + ":".join(_draw(rng, _HEX, 2) for _ in range(5))


def iso_now(offset_seconds: float = 0.0, *, now: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and ``Z`` (DRS dates are strings, not timestamps)."""
    t = (now or clock.now()) - timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------------------------- ARNs
class Arn(NamedTuple):
    partition: str
    service: str
    region: str
    account: str
    resource_type: str
    resource_id: str


def make_arn(region: str, account: str, resource_type: str, resource_id: str, service: str = "drs") -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource_type}/{resource_id}"


def parse_arn(arn: str) -> Arn | None:
    """``arn:aws:drs:REGION:ACCOUNT:TYPE/ID`` -> :class:`Arn`; ``None`` when it is not of that form."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or "/" not in parts[5]:
        return None
    rtype, rid = parts[5].split("/", 1)
    return Arn(parts[1], parts[2], parts[3], parts[4], rtype, rid)


# -------------------------------------------------------------------------------- SigV4 and keys
class SigV4Scope(NamedTuple):
    access_key: str
    date: str
    region: str
    service: str


def parse_sigv4(authorization: str | None) -> SigV4Scope | None:
    """Credential scope of an ``Authorization: AWS4-HMAC-SHA256 Credential=...`` header."""
    m = _CREDENTIAL_RE.search(authorization or "")
    return SigV4Scope(*m.groups()) if m else None


def account_from_access_key(key_id: str | None) -> str | None:
    """The account id AWS encodes in an ``AKIA``/``ASIA`` access key id, or ``None``.

    Real keys (since 2019) and the temporary keys moto's STS AssumeRole returns both carry it in
    characters 4..15 (base32): ``(int(b32decode(key[4:12] + pad)[:6]) & 0x7fffffffff80) >> 7``.
    Keys such as ``testing`` or ``AKIAIOSFODNN7EXAMPLE`` do not decode to a plausible account.
    """
    if not key_id or len(key_id) < 16 or key_id[:4] not in ("AKIA", "ASIA"):
        return None
    try:
        raw = base64.b32decode(key_id[4:12] + key_id[12:20].ljust(8, "A")[:8])
    except (binascii.Error, ValueError):
        return None
    account = (int.from_bytes(raw[:6], "big") & 0x7FFFFFFFFF80) >> 7
    return f"{account:012d}" if account else None


def access_key_for_account(account_id: str, rng: random.Random | None = None, prefix: str = "AKIA") -> str:
    """An access key id that encodes ``account_id`` as AWS does (inverse of :func:`account_from_access_key`).

    Lets a plain boto3 client with static credentials reach a chosen account on the standalone server.
    """
    rng = rng or random.Random(account_id)
    n = int(account_id)
    account_part = base64.b32encode((n // 2 + 0x8000000000).to_bytes(5, "big")).decode()
    middle = rng.choice(_B32[16:]) if n % 2 else rng.choice(_B32[:16])
    return prefix + account_part + middle + _draw(rng, _B32, 7)
