"""The console's WSGI app, and the one HTTP server that serves it beside the AWS endpoint.

`console_app(data)` answers `/console/...`; `SandboxServer` is moto's threaded server with the console mounted
in front of it: `/console/` goes to the console, everything else to moto (every service, DRS included).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from . import fleet_pages, pages
from .data import ConsoleData, ConsoleError
from .html import BASE, error_page, page

STATIC = Path(__file__).with_name("static")
_STATIC_TYPES = {".css": "text/css", ".js": "application/javascript"}

_ROUTES = Map(
    [
        Rule(f"{BASE}/", endpoint="index"),
        Rule(f"{BASE}/executions/<path:arn>", endpoint="execution"),
        Rule(f"{BASE}/map-runs/<path:arn>", endpoint="map_run"),
        Rule(f"{BASE}/regions", endpoint="regions"),
        Rule(f"{BASE}/inventory", endpoint="inventory"),
        Rule(f"{BASE}/api/executions/<path:arn>", endpoint="execution_json"),
        Rule(f"{BASE}/static/<name>", endpoint="static"),
    ],
    strict_slashes=True,
)


class Console:
    """The console's pages over one `ConsoleData`."""

    def __init__(self, data: ConsoleData, *, discovery_age_hours: float = 6.0) -> None:
        self.data = data
        self.discovery_age_hours = discovery_age_hours

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, args = _ROUTES.bind_to_environ(environ).match()
            response = getattr(self, f"_{endpoint}")(request, **args)
        except ConsoleError as exc:
            response = Response(error_page(str(exc)), status=404, content_type="text/html; charset=utf-8")
        except HTTPException as exc:
            response = exc.get_response(environ)
        return response(environ, start_response)

    @staticmethod
    def _html(request: Request, title: str, main: str, main_attrs: str = "") -> Response:
        fragment = request.headers.get("X-Console-Fragment") == "main"
        body = main if fragment else page(title, main, main_attrs=main_attrs)
        return Response(body, content_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    def _index(self, request: Request) -> Response:
        return self._html(request, "State machines", pages.index_main(self.data))

    def _execution(self, request: Request, arn: str) -> Response:
        view = self.data.execution(arn)
        return self._html(request, view.row.name, pages.execution_main(view), pages.execution_attrs(view))

    def _execution_json(self, request: Request, arn: str) -> Response:
        desc = self.data.describe(arn)
        events = len(self.data.history(arn))
        body = json.dumps({"status": desc["status"], "events": events})
        return Response(body, content_type="application/json", headers={"Cache-Control": "no-store"})

    def _map_run(self, request: Request, arn: str) -> Response:
        status = request.args.get("status") or None
        if status is not None and status not in pages.MAP_RUN_STATUSES:
            raise ConsoleError(f"status {status!r} is not one of {', '.join(pages.MAP_RUN_STATUSES)}")
        view = self.data.map_run(arn, status)
        return self._html(request, "Map Run", pages.map_run_main(view, status))

    def _regions(self, request: Request) -> Response:
        body = self.data.regions(self.discovery_age_hours)
        return self._html(request, "Regions", fleet_pages.regions_main(body))

    def _inventory(self, request: Request) -> Response:
        keep = (*fleet_pages.INVENTORY_FILTERS, "limit", "nextToken")
        params = {k: v for k, v in request.args.items() if k in keep and v}
        topology_id = request.args.get("topology")
        topology = self.data.failback_topology(topology_id) if topology_id else None
        body = self.data.inventory(params)
        return self._html(request, "Inventory", fleet_pages.inventory_main(body, params, topology))

    def _static(self, request: Request, name: str) -> Response:
        path = STATIC / name
        if path.suffix not in _STATIC_TYPES or not path.is_file() or path.parent != STATIC:
            raise NotFound()
        return Response(path.read_bytes(), content_type=_STATIC_TYPES[path.suffix])


def mounted(console: Any, aws: Any, rest_api: Any = None) -> Callable[..., Iterable[bytes]]:
    """One WSGI app: `/console` and below to the console, the REST API's stage URLs to `rest_api`
    (sandbox/rest_endpoint.py), every other path to `aws`."""
    from ..rest_endpoint import STAGE_PATH

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == BASE:
            start_response("308 Permanent Redirect", [("Location", f"{BASE}/")])
            return [b""]
        if rest_api is not None and STAGE_PATH.match(path):
            return rest_api(environ, start_response)
        target = console if path.startswith(f"{BASE}/") else aws
        return target(environ, start_response)

    return app


class SandboxServer:
    """moto's threaded HTTP server with the console in front; `url` once started."""

    def __init__(self, console: Console, host: str = "127.0.0.1", port: int = 0, rest_api: Any = None) -> None:
        self.console, self.host, self.port, self.rest_api = console, host, port, rest_api
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        aws = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self.host,
            self.port,
            mounted(self.console, aws, self.rest_api),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-server", daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self._server.server_port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


def serve_sandbox(sb: Any, host: str, port: int) -> tuple[str, Callable[[], None]]:
    """Serve an open Sandbox: its AWS endpoint, its REST API's stages and its console on one port; returns
    (base URL, stop)."""
    from ..rest_endpoint import gateway_of, rest_endpoint

    data = ConsoleData(sb.client("stepfunctions"), lambda path, params: sb.api("GET", path, params))
    age = float(sb.deployment.environment.get("DISCOVERY_AGE_HOURS") or 6)
    rest_api = rest_endpoint(sb) if gateway_of(sb).api_ids() else None
    server = SandboxServer(Console(data, discovery_age_hours=age), host=host, port=port, rest_api=rest_api)
    return server.start(), server.stop
