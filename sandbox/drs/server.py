"""Standalone HTTP front-end for the DRS simulator (no moto server needed).

    python -m sandbox.drs.server --port 4566 [--fleet events/fleets/demo.yaml]
    export AWS_ENDPOINT_URL_DRS=http://127.0.0.1:4566      # boto3 >= 1.28 / aws CLI v2

Account of a request: the ``x-moto-account-id`` header, else the account encoded in the SigV4 access
key id (real ``AKIA``/``ASIA`` keys and moto's AssumeRole keys carry it; see
:func:`sandbox.drs.ids.access_key_for_account`), else 123456789012. Region: the SigV4 credential scope.

Admin API (JSON) under ``/_sim/``: ``GET health``, ``GET|DELETE counters``, ``GET|PUT faults``
(body: a list of faults), ``POST reset``. The one-endpoint-for-everything mode is the moto server with
:func:`sandbox.drs.register_with_moto` (the ``drs-fleet-sync sandbox serve`` command).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from . import ids
from .engine import DrsEngine
from .faults import FaultError

__all__ = ["DrsWsgiApp", "main", "make_server"]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class DrsWsgiApp:
    """WSGI application serving one :class:`DrsEngine`."""

    def __init__(self, engine: DrsEngine | None = None) -> None:
        self.engine = engine or DrsEngine()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if path.startswith("/_sim/"):
            status, headers, out = self._admin(method, path.removeprefix("/_sim/"), body)
        else:
            raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or path
            scope = ids.parse_sigv4(environ.get("HTTP_AUTHORIZATION"))
            account = (
                environ.get("HTTP_X_MOTO_ACCOUNT_ID")
                or ids.account_from_access_key(scope.access_key if scope else None)
                or ids.DEFAULT_ACCOUNT_ID
            )
            region = scope.region if scope else "us-east-1"
            status, headers, out = self.engine.handle(
                method, raw.split("?", 1)[0], query, body, account=account, region=region
            )
        headers = {**headers, "Content-Length": str(len(out))}
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [out]

    def _admin(self, method: str, what: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        e = self.engine
        result: Any
        try:
            if what == "health" and method == "GET":
                result = {"ok": True}
            elif what == "counters" and method == "GET":
                result = e.counters_snapshot()
            elif what == "counters" and method == "DELETE":
                e.reset_counters()
                result = {"ok": True}
            elif what == "faults" and method == "GET":
                result = {"faults": e.faults}
            elif what == "faults" and method == "PUT":
                e.set_faults(json.loads(body or b"[]"))
                result = {"faults": e.faults}
            elif what == "reset" and method == "POST":
                e.reset()
                result = {"ok": True}
            else:
                return _json(404, {"message": f"no admin route {method} /_sim/{what}"})
        except (FaultError, ValueError) as err:
            return _json(400, {"message": str(err)})
        return _json(200, result)


def _json(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def make_server(host: str = "127.0.0.1", port: int = 0, app: DrsWsgiApp | None = None, *, threaded: bool = True) -> Any:
    """A werkzeug server (HTTP/1.1 keep-alive; threaded so a latency fault does not block other callers)."""
    from werkzeug.serving import WSGIRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    class _Quiet(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return werkzeug_server(host, port, app or DrsWsgiApp(), threaded=threaded, request_handler=_Quiet)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.drs.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--fleet", help="fleet file to seed (EC2/IAM side effects go to an in-process moto)")
    args = parser.parse_args(argv)
    app = DrsWsgiApp()
    if args.fleet:
        from moto import mock_aws

        from sandbox.fleet import apply_fleet, load_fleet

        mock = mock_aws()
        mock.start()  # apply_fleet creates EC2 instances and roles; they live in this process's moto
        apply_fleet(load_fleet(args.fleet), app.engine, accounts_table=None, role_name="DrsFleetSyncRole")
    server = make_server(args.host, args.port, app)
    print(f"DRS simulator on http://{args.host}:{server.server_port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
