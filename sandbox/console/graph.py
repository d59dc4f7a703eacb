"""An execution's graph: the ASL's states, laid out by grandalf's Sugiyama layout, coloured by the history.

`graph_of(definition)` turns a state machine definition into nodes and edges (Next, Choice rules and Default,
Catch), `statuses(events)` says what happened to each state in one execution, and `layout(graph)` places
the nodes top to bottom as the Step Functions console draws them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grandalf.graphs import Edge as _GEdge
from grandalf.graphs import Graph as _GGraph
from grandalf.graphs import Vertex
from grandalf.layouts import SugiyamaLayout
from grandalf.routing import route_with_lines

START, END = "Start", "End"
SUCCEEDED, FAILED, CAUGHT, RUNNING, NOT_ENTERED = "succeeded", "failed", "caught", "running", "not-entered"
NODE_HEIGHT = 36
CHAR_WIDTH = 7.2  # the page's 12px sans-serif, roughly
_FAILURES = ("TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "MapStateFailed", "MapRunFailed")
_EXEC_FAILURES = ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
_RETRIED = ("TaskScheduled", "TaskSucceeded", "MapRunStarted")


@dataclass
class Edge:
    source: str
    target: str
    kind: str = "next"  # next, choice, default, catch
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Node:
    name: str
    type: str  # an ASL state type, or Start / End
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = NODE_HEIGHT


@dataclass
class StateGraph:
    nodes: dict[str, Node]
    edges: list[Edge]
    width: float = 0.0
    height: float = 0.0


def _targets(state: dict[str, Any]) -> list[tuple[str, str]]:
    out = [(rule["Next"], "choice") for rule in state.get("Choices", []) if "Next" in rule]
    if "Default" in state:
        out.append((state["Default"], "default"))
    if "Next" in state:
        out.append((state["Next"], "next"))
    out += [(catcher["Next"], "catch") for catcher in state.get("Catch", []) if "Next" in catcher]
    if state.get("End") or state.get("Type") in ("Succeed", "Fail"):
        out.append((END, "next"))
    return out


def graph_of(definition: dict[str, Any] | str) -> StateGraph:
    """The top-level states as nodes (a Map is one node: its items are child executions), plus Start and End."""
    asl = json.loads(definition) if isinstance(definition, str) else definition
    states: dict[str, Any] = asl.get("States", {})
    nodes = {START: Node(START, START), END: Node(END, END)}
    nodes.update({name: Node(name, state.get("Type", "?")) for name, state in states.items()})
    edges = [Edge(START, asl["StartAt"])] if asl.get("StartAt") in states else []
    seen: set[tuple[str, str]] = set()
    for name, state in states.items():
        for target, kind in _targets(state):
            if target in nodes and (name, target) not in seen:
                seen.add((name, target))
                edges.append(Edge(name, target, kind))
    return StateGraph(nodes, edges)


class _View:
    def __init__(self, width: float, height: float) -> None:
        self.w, self.h = width, height
        self.xy = (0.0, 0.0)


class _EdgeView:
    def __init__(self) -> None:
        self.pts: list[tuple[float, float]] = []

    def setpath(self, pts: list[tuple[float, float]]) -> None:
        self.pts = [(float(x), float(y)) for x, y in pts]


def layout(graph: StateGraph, margin: float = 20.0) -> StateGraph:
    """Place every node and route every edge (in place); returns the graph with its width and height."""
    vertices = {name: Vertex(name) for name in graph.nodes}
    for name, vertex in vertices.items():
        node = graph.nodes[name]
        node.width = max(90.0, len(name) * CHAR_WIDTH + 28)
        vertex.view = _View(node.width, node.height)
    g_edges = []
    for edge in graph.edges:
        g_edge = _GEdge(vertices[edge.source], vertices[edge.target])
        g_edge.view = _EdgeView()
        g_edges.append((edge, g_edge))
    components = _GGraph(list(vertices.values()), [g for _, g in g_edges]).C
    offset_x = 0.0
    for component in components:
        sugiyama = SugiyamaLayout(component)
        sugiyama.yspace, sugiyama.xspace = 34, 30
        sugiyama.route_edge = route_with_lines
        sugiyama.init_all(roots=[vertices[START]] if vertices[START] in component.sV else None)
        sugiyama.draw()
        left = min(v.view.xy[0] - v.view.w / 2 for v in component.sV)
        for v in component.sV:
            node = graph.nodes[v.data]
            node.x, node.y = v.view.xy[0] - left + offset_x + margin, v.view.xy[1] + margin
        offset_x = max(n.x + n.width / 2 for n in graph.nodes.values() if vertices[n.name] in component.sV)
    for edge, g_edge in g_edges:
        dx = graph.nodes[edge.source].x - vertices[edge.source].view.xy[0]
        dy = graph.nodes[edge.source].y - vertices[edge.source].view.xy[1]
        edge.points = [(x + dx, y + dy) for x, y in g_edge.view.pts]
    graph.width = max(n.x + n.width / 2 for n in graph.nodes.values()) + margin
    graph.height = max(n.y + n.height / 2 for n in graph.nodes.values()) + margin
    return graph


@dataclass
class StateRun:
    """What happened to one state in one execution: its status and the last input, output or error seen."""

    status: str = NOT_ENTERED
    input: Any = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    entered: int = 0


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


def statuses(events: list[dict[str, Any]], execution_status: str = "SUCCEEDED") -> dict[str, StateRun]:
    """Each entered state's run, from an execution's history (GetExecutionHistory, oldest first)."""
    runs: dict[str, StateRun] = {}
    current: str | None = None
    for event in events:
        kind, details = event["type"], _details(event)
        if kind.endswith("StateEntered"):
            current = str(details.get("name"))
            run = runs.setdefault(current, StateRun())
            run.status, run.input, run.entered = RUNNING, _json(details.get("input")), run.entered + 1
        elif current is None:
            continue
        elif kind.endswith("StateExited"):
            # a state that exits after a failure was caught: an uncaught one ends the execution instead
            runs[current].status = CAUGHT if runs[current].status == FAILED else SUCCEEDED
            runs[current].output = _json(details.get("output"))
        elif kind in _FAILURES or kind in _EXEC_FAILURES:
            run = runs[current]
            run.status = FAILED
            run.error, run.cause = details.get("error") or run.error, details.get("cause") or run.cause
        elif kind in _RETRIED and runs[current].status == FAILED:
            runs[current].status = RUNNING  # a Retry: the failure did not end the state
    if current and runs[current].status == RUNNING and execution_status != "RUNNING":
        runs[current].status = FAILED if execution_status in ("FAILED", "TIMED_OUT", "ABORTED") else SUCCEEDED
    return runs
