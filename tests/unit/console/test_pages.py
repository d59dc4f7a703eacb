"""The console's pages and routes over a ConsoleData whose AWS answers are given: escaping, the region
picture's colours and plan marks, the Map Run's filter, the fragment a running execution polls for."""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from werkzeug.test import Client

from sandbox.console import Console, ConsoleData, mounted
from sandbox.console.fleet_pages import cell_status, inventory_main, regions_main
from sandbox.console.server import STATIC

ASL = (Path(__file__).resolve().parents[3] / "statemachines" / "sync.asl.json").read_text()
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:drs-fleet-sync-inventory-sync"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:drs-fleet-sync-inventory-sync:run-1"
T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def tags(html: str, testid: str) -> list[dict[str, str | None]]:
    parser = Tags()
    parser.feed(html)
    return [attrs for _, attrs in parser.found if attrs.get("data-testid") == testid]


class Sfn:
    """Step Functions answers for one execution (what the page layer reads; the real calls are in tests/console)."""

    class exceptions:
        class ExecutionDoesNotExist(Exception):
            pass

        class InvalidArn(Exception):
            pass

        class ResourceNotFound(Exception):
            pass

    def __init__(self, status: str = "SUCCEEDED", events: list[dict[str, Any]] | None = None) -> None:
        self.status = status
        self.events = events or []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        if executionArn != EXECUTION:
            raise self.exceptions.ExecutionDoesNotExist(executionArn)
        return {
            "executionArn": EXECUTION,
            "stateMachineArn": MACHINE,
            "name": "run-1",
            "status": self.status,
            "startDate": T0,
            "stopDate": T0 + dt.timedelta(seconds=3),
            "input": json.dumps({"note": "<script>alert(1)</script>"}),
            "output": json.dumps({"decision": "filtered", "outcome": "complete"}),
        }

    def describe_state_machine(self, stateMachineArn: str) -> dict[str, Any]:
        return {"definition": ASL}

    def get_paginator(self, name: str) -> Any:
        events = self.events

        class Pages:
            def paginate(self, **kw: Any) -> list[dict[str, Any]]:
                return [{"events": events}]

        return Pages()

    def list_map_runs(self, executionArn: str) -> dict[str, Any]:
        return {"mapRuns": []}


def regions_body() -> dict[str, Any]:
    return {
        "decision": "filtered",
        "regions": ["eu-west-1", "us-east-1"],
        "activeRegions": ["us-east-1"],
        "regionsSkipped": 1,
        "statuses": [
            {"accountId": "111111111111", "region": "us-east-1", "status": "AVAILABLE", "serverCount": 4},
            {"accountId": "111111111111", "region": "eu-west-1", "status": "AVAILABLE", "serverCount": 0},
            {
                "accountId": "222222222222",
                "region": "us-east-1",
                "status": "ACCESS_DENIED",
                "errorCode": "AccessDenied",
            },
        ],
        "nextScan": [("111111111111", "us-east-1")],
    }


def test_region_cells_are_coloured_by_status_and_marked_when_the_next_plan_scans_them() -> None:
    cells = {(c["data-account"], c["data-region"]): c for c in tags(regions_main(regions_body()), "region-cell")}
    assert {k: c["data-status"] for k, c in cells.items()} == {
        ("111111111111", "us-east-1"): "servers",
        ("111111111111", "eu-west-1"): "empty",
        ("222222222222", "us-east-1"): "ACCESS_DENIED",
        ("222222222222", "eu-west-1"): "none",
    }
    assert [k for k, c in cells.items() if c["data-next-scan"] == "true"] == [("111111111111", "us-east-1")]
    assert cell_status({"status": "SOMETHING_NEW"}) == "ERROR"


def test_inventory_page_escapes_what_the_api_returns_and_keeps_filters_on_the_next_page() -> None:
    body = {"servers": [{"sourceServerID": "s-1", "hostname": "<b>web</b>"}], "count": 1, "nextToken": "tok"}
    html = inventory_main(body, {"hostname": "web", "limit": "1"})
    assert "<b>web</b>" not in html and "&lt;b&gt;web&lt;/b&gt;" in html
    (link,) = tags(html, "next-page")
    assert link["href"] == "/console/inventory?hostname=web&limit=1&nextToken=tok"


@pytest.fixture
def client() -> Client:
    events = [
        {"id": 1, "type": "ExecutionStarted", "timestamp": T0, "executionStartedEventDetails": {"input": "{}"}},
        {
            "id": 2,
            "type": "TaskStateEntered",
            "timestamp": T0,
            "stateEnteredEventDetails": {"name": "Resolve the scan plan", "input": "{}"},
        },
    ]
    console = Console(ConsoleData(Sfn("RUNNING", events)))

    def aws(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"aws"]

    return Client(mounted(console, aws))


def test_the_execution_page_draws_every_state_with_its_status_and_polls_while_running(client: Client) -> None:
    response = client.get(f"/console/executions/{quote(EXECUTION, safe='')}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    states = {s["data-state"]: s["data-status"] for s in tags(html, "state")}
    assert states["Resolve the scan plan"] == "running" and states["Finish the run"] == "not-entered"
    assert len(states) == len(json.loads(ASL)["States"]) + 2
    assert "<script>alert(1)</script>" not in html
    embedded = html.split("<script type='application/json' id='state-data'>", 1)[1].split("</script>", 1)[0]
    assert json.loads(embedded)["Resolve the scan plan"]["status"] == "running"  # what selecting a state shows
    assert 'data-status="RUNNING"' in html.replace("'", '"') and "data-poll" in html
    fragment = client.get(f"/console/executions/{quote(EXECUTION, safe='')}", headers={"X-Console-Fragment": "main"})
    assert not fragment.get_data(as_text=True).startswith("<!doctype")
    poll = client.get(f"/console/api/executions/{quote(EXECUTION, safe='')}").get_json()
    assert poll == {"status": "RUNNING", "events": 2}


def test_unknown_things_are_404_pages_and_other_paths_go_to_aws(client: Client) -> None:
    missing = client.get("/console/executions/" + quote(EXECUTION + "x", safe=""))
    assert missing.status_code == 404 and "no execution" in missing.get_data(as_text=True)
    assert client.get("/console/map-runs/x?status=BOGUS").status_code == 404
    assert client.get("/console/static/../data.py").status_code == 404
    assert client.get("/console/nothing").status_code == 404
    assert client.get("/console").status_code == 308
    assert client.get("/").get_data() == b"aws"
    assert {p.name for p in STATIC.iterdir()} == {"console.css", "console.js"}
