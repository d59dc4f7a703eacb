"""EC2 and STS answer the fleet's ``"service": "ec2"`` / ``"sts"`` faults, as the DRS simulator answers DRS ones.

``install_service_faults(engine)`` wraps ``call_action`` of moto's EC2 and STS responses (every action goes
through it, in process and in server mode; outside the role enforcement of :mod:`sandbox.moto_patches.iam`,
so install it after that): before moto runs an EC2 or STS action it asks the engine's faults
(:meth:`sandbox.drs.engine.DrsEngine.fault_answer`) what to do. The latency is slept on the sandbox clock;
an error is answered in the service's own XML error form with AWS's code and HTTP status
(:mod:`sandbox.drs.service_faults`), so botocore raises and retries exactly as against AWS
(``RequestLimitExceeded`` and ``Throttling`` are throttling errors to its retry modes).

A fault's ``accountId`` is the account a call acts on: the caller's account for EC2, and for
``AssumeRole`` the account of the role (``RoleArn``), so one account's role can be denied or throttled.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from html import escape  # XML text needs only &, <, > (and quotes) escaped; nothing here parses XML
from typing import Any

from .patching import installed_once

__all__ = ["install_service_faults"]

_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def _account_of(response: Any, service: str) -> str:
    if service == "sts" and response._get_action().startswith("AssumeRole"):
        parts = str(response._get_param("RoleArn") or "").split(":")
        if len(parts) > 5 and parts[4]:
            return parts[4]
    return str(response.current_account)


def error_body(service: str, code: str, message: str) -> str:
    """The query-protocol error document: EC2's ``<Response><Errors>``, STS's ``<ErrorResponse>``."""
    request_id = str(uuid.uuid4())
    if service == "ec2":
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    return (
        f'<ErrorResponse xmlns="{_STS_NS}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )


def _wrap(cls: Any, service: str, engine: Any) -> Callable[[], None]:
    from sandbox.drs import clock
    from sandbox.drs.faults import Call

    original = cls.call_action

    def call_action(self: Any) -> Any:
        call = Call(_account_of(self, service), self.region, self._get_action(), service=service)
        delay, error = engine.fault_answer(call)
        if delay:
            clock.sleep(delay)
        if error is not None:
            headers = {"Content-Type": "text/xml", "x-amzn-RequestId": str(uuid.uuid4())}
            return error.status, headers, error_body(service, error.code, error.message)
        return original(self)

    cls.call_action = call_action

    def undo() -> None:
        if cls.call_action is call_action:
            cls.call_action = original

    return undo


@installed_once
def install_service_faults(engine: Any) -> Callable[[], None]:
    """Patch moto so EC2 and STS obey ``engine``'s faults (idempotent); returns a function that removes it."""
    from moto.ec2.responses import EC2Response
    from moto.sts.responses import TokenResponse

    undos = [_wrap(cls, service, engine) for cls, service in ((EC2Response, "ec2"), (TokenResponse, "sts"))]

    def undo() -> None:
        for one in reversed(undos):
            one()

    return undo
