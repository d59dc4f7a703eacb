"""The one exception type the simulator raises for an AWS error answer.

A :class:`DrsError` carries everything needed to serialise the error the way DRS (restJson1) does:
the error code (sent in ``x-amzn-ErrorType`` and the body ``code``), the HTTP status, the message,
extra body members (``fieldList``, ``resourceId``, ``serviceCode`` ...) and extra headers
(``Retry-After``).
"""

from __future__ import annotations

import json
from typing import Any

from .shapes import error_members, error_status

# Errors real AWS returns that the DRS model does not define (they come from the front door, not DRS).
_NON_MODEL_STATUS = {
    "UnrecognizedClientException": 403,  # region not enabled for the account / bad credentials
    "NotImplementedException": 501,  # simulator: model operation without an implementation
    "UnknownOperationException": 404,  # no model operation has this method and path
}


class DrsError(Exception):
    """An AWS error answer: ``DrsError("ValidationException", "bad", reason="other")``.

    ``status`` defaults to the HTTP status the botocore model gives the error shape.
    ``fields`` become members of the JSON body; ``headers`` are added to the response.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        type_suffix: str = "",
        **fields: Any,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status or _NON_MODEL_STATUS.get(code) or error_status(code) or 400
        self.headers = dict(headers or {})
        self.type_suffix = type_suffix
        self.fields = {k: v for k, v in fields.items() if v is not None}

    def response(self, base_headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Serialise as restJson1: status, headers (``x-amzn-ErrorType``), JSON body."""
        headers = dict(base_headers)
        headers["x-amzn-ErrorType"] = self.code + self.type_suffix
        headers.update(self.headers)
        body: dict[str, Any] = {"message": self.message}
        if "code" in error_members(self.code):
            body["code"] = self.code
        body.update(self.fields)
        return self.status, headers, json.dumps(body, separators=(",", ":")).encode()


def unrecognized_client(message: str | None = None) -> DrsError:
    """What AWS answers for a region the account has not enabled (403, the front door's own error type)."""
    return DrsError(
        "UnrecognizedClientException",
        message or "The security token included in the request is invalid.",
        type_suffix=":http://internal.amazon.com/coral/com.amazon.coral.service/",
    )
