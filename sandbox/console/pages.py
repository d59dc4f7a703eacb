"""The console's Step Functions pages: state machines and executions, one execution, one Map Run."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from .data import ConsoleData, ExecutionRow, ExecutionView, MapRunView
from .graph import CAUGHT, FAILED, NOT_ENTERED, RUNNING, SUCCEEDED, StateGraph, StateRun
from .html import (
    badge,
    cells,
    duration,
    e,
    execution_url,
    facts,
    map_run_url,
    pretty,
    table,
    when,
)

MAP_RUN_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def index_main(data: ConsoleData, limit: int = 20) -> str:
    parts = ["<h1>State machines</h1>"]
    for machine in data.state_machines():
        rows = [_execution_row(r) for r in data.executions(machine["stateMachineArn"], limit)]
        parts.append(f"<h2 data-testid='machine'>{e(machine['name'])}</h2>")
        parts.append(
            table(
                ("name", "status", "started", "duration", "decision", "outcome"),
                rows or ["<tr><td colspan='6' class='muted'>no executions</td></tr>"],
                testid=f"executions-{machine['name']}",
            )
        )
    return "".join(parts)


def _execution_row(row: ExecutionRow) -> str:
    return cells(
        f"<a href='{execution_url(row.arn)}' data-testid='execution-link'>{e(row.name)}</a>",
        badge(row.status),
        when(row.start),
        duration(row.duration_ms),
        e(row.decision),
        e(row.outcome),
    )


# ------------------------------------------------------------------ one execution


def _state_svg(graph: StateGraph, states: dict[str, StateRun], map_runs: list[dict[str, Any]]) -> str:
    parts = [
        f"<svg class='graph' data-testid='graph' width='{graph.width:.0f}' height='{graph.height:.0f}' "
        "xmlns='http://www.w3.org/2000/svg'><defs><marker id='arrow' viewBox='0 0 10 10' refX='9' refY='5' "
        "markerWidth='7' markerHeight='7' orient='auto'><path d='M0,0 L10,5 L0,10 z' fill='#879596'/></marker></defs>"
    ]
    for edge in graph.edges:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in edge.points)
        parts.append(f"<polyline class='edge {e(edge.kind)}' points='{points}' marker-end='url(#arrow)'/>")
    map_run = map_run_url(map_runs[0]["mapRunArn"]) if map_runs else ""
    for node in graph.nodes.values():
        run = states.get(node.name)
        status = run.status if run else NOT_ENTERED
        if node.type in ("Start", "End"):
            status = SUCCEEDED if states else NOT_ENTERED
        extra = f" data-map-run='{e(map_run)}'" if node.type == "Map" and map_run else ""
        x, y = node.x - node.width / 2, node.y - node.height / 2
        radius = node.height / 2 if node.type in ("Start", "End") else 4
        parts.append(
            f"<g class='state st-{status}' data-testid='state' data-state='{e(node.name)}' data-type='{e(node.type)}' "
            f"data-status='{status}'{extra}><rect x='{x:.1f}' y='{y:.1f}' width='{node.width:.1f}' "
            f"height='{node.height:.1f}' rx='{radius:.0f}'/><text x='{node.x:.1f}' y='{node.y + 4:.1f}' "
            f"text-anchor='middle'>{e(node.name)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    colours = {SUCCEEDED: "#dff0d8", FAILED: "#f9dcd6", CAUGHT: "#fde9c4", RUNNING: "#d6ecfa", NOT_ENTERED: "#fff"}
    spans = "".join(f"<span><i style='background:{c}'></i>{s}</span>" for s, c in colours.items())
    return f"<p class='legend'>{spans}</p>"


def _event_details(event: dict[str, Any]) -> str:
    details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
    name = details.get("name") or ""
    rest = {k: v for k, v in details.items() if k not in ("name", "inputDetails", "outputDetails")}
    text = json.dumps(rest, default=str, sort_keys=True) if rest else ""
    return f"{e(name)}</td><td><code>{e(text[:300] + ('...' if len(text) > 300 else ''))}</code>"


def _history_table(events: list[dict[str, Any]]) -> str:
    start = events[0]["timestamp"] if events else None
    rows = []
    for event in events:
        elapsed = int((event["timestamp"] - start).total_seconds() * 1000) if start else None
        rows.append(
            f"<tr data-testid='event' data-type='{e(event['type'])}'><td>{e(event['id'])}</td>"
            f"<td>{e(event['type'])}</td><td>{_event_details(event)}</td><td>{when(event['timestamp'])}</td>"
            f"<td>{e(elapsed)} ms</td></tr>"
        )
    return table(("ID", "type", "state", "details", "timestamp", "elapsed"), rows, testid="history")


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no character of it can close the element or start markup."""
    text = json.dumps(value, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def execution_main(view: ExecutionView) -> str:
    row = view.row
    summary = [
        ("status", badge(row.status)),
        ("state machine", e(row.machine)),
        ("execution ARN", f"<code>{e(row.arn)}</code>"),
        ("started", when(row.start)),
        ("stopped", when(row.stop)),
        ("duration", duration(row.duration_ms)),
        ("decision", e(row.decision)),
        ("outcome", e(row.outcome)),
    ]
    if row.error:
        summary.append(("error", f"<span class='error'>{e(row.error)}: {e(row.cause)}</span>"))
    state_data = {name: asdict(run) for name, run in view.states.items()}
    runs = "".join(
        f"<li><a data-testid='map-run' href='{map_run_url(r['mapRunArn'])}'>{e(r['mapRunArn'].rsplit(':', 2)[-2])} "
        f"{e(r['mapRunArn'].rsplit(':', 1)[-1])}</a></li>"
        for r in view.map_runs
    )
    return (
        f"<h1>Execution {e(row.name)}</h1>{facts(summary)}<h2>Graph view</h2>{_legend()}"
        f"<div class='split'>{_state_svg(view.graph, view.states, view.map_runs)}"
        "<div id='state-detail' data-testid='state-detail'><p class='muted'>select a state to see its input, "
        "output or error</p></div></div>"
        f"<script type='application/json' id='state-data'>{_script_json(state_data)}</script>"
        f"<h2>Map Runs</h2><ul>{runs or '<li class=muted>none</li>'}</ul>"
        f"<div class='split'><div><h2>Input</h2>{pretty(row.input)}</div>"
        f"<div><h2>Output</h2>{pretty(row.output)}</div></div>"
        f"<h2>Events ({len(view.events)})</h2>{_history_table(view.events)}"
    )


def execution_attrs(view: ExecutionView) -> str:
    return (
        f"data-poll='/console/api/executions/{e(execution_url(view.row.arn).rsplit('/', 1)[-1])}' "
        f"data-status='{e(view.row.status)}' data-events='{len(view.events)}'"
    )


# ------------------------------------------------------------------ one map run


def map_run_main(view: MapRunView, status: str | None) -> str:
    desc = view.description
    counts = desc.get("executionCounts") or {}
    options = "".join(f"<option value='{s}'{' selected' if s == status else ''}>{s}</option>" for s in MAP_RUN_STATUSES)
    rows = [
        f"<tr data-testid='child' data-account='{e(r.account)}' data-region='{e(r.region)}' "
        f"data-status='{e(r.status)}'>"
        f"<td><a href='{execution_url(r.arn)}'>{e(r.arn.rsplit(':', 1)[-1][:8])}</a></td><td>{e(r.account)}</td>"
        f"<td>{e(r.region)}</td><td>{badge(r.status)}</td><td>{e(r.item_status)}</td><td>{duration(r.duration_ms)}</td>"
        f"<td class='error'>{e(r.error)}</td><td>{e(r.api_calls)}</td><td>{e(r.server_count)}</td></tr>"
        for r in view.rows
    ]
    parent = desc.get("executionArn", "")
    return (
        f"<h1>Map Run {e(view.arn.rsplit(':', 1)[-1])}</h1>"
        + facts(
            [
                ("status", badge(desc.get("status"))),
                ("execution", f"<a href='{execution_url(parent)}'>{e(parent.rsplit(':', 1)[-1])}</a>"),
                ("started", when(desc.get("startDate"))),
                ("stopped", when(desc.get("stopDate"))),
                ("max concurrency", e(desc.get("maxConcurrency"))),
                ("child executions", ", ".join(f"{e(k)} {e(v)}" for k, v in counts.items())),
            ]
        )
        + "<form class='filters' method='get'><label>status<select name='status' data-testid='status-filter' "
        f"onchange='this.form.submit()'><option value=''>any</option>{options}</select></label></form>"
        + f"<p>{len(view.rows)} child executions</p>"
        + table(
            ("execution", "account", "region", "status", "region status", "duration", "error", "API calls", "servers"),
            rows,
            testid="children",
        )
    )
