"""The execution graph: every ASL state is a node, edges follow Next/Choice/Default/Catch, the layout places
nodes without overlap, and the history decides each state's colour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.console.graph import (
    CAUGHT,
    END,
    FAILED,
    NOT_ENTERED,
    RUNNING,
    START,
    SUCCEEDED,
    graph_of,
    layout,
    statuses,
)

ASL = json.loads((Path(__file__).resolve().parents[3] / "statemachines" / "sync.asl.json").read_text())


def entered(name: str, payload: Any = None, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name, "input": json.dumps(payload)}}


def exited(name: str, payload: Any = None, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateExited", "stateExitedEventDetails": {"name": name, "output": json.dumps(payload)}}


def failed(error: str, cause: str = "") -> dict[str, Any]:
    return {"type": "TaskFailed", "taskFailedEventDetails": {"error": error, "cause": cause}}


def test_every_top_level_state_is_a_node_with_its_edges() -> None:
    graph = graph_of(ASL)
    assert set(graph.nodes) == {*ASL["States"], START, END}
    edges = {(e.source, e.target, e.kind) for e in graph.edges}
    assert (START, ASL["StartAt"], "next") in edges
    assert ("Is another run in progress?", "Note the skipped run", "choice") in edges
    assert ("Is another run in progress?", "Scan each account and region", "default") in edges
    assert ("Finish the run", "Did a shared task fail?", "next") in edges
    assert ("Hand back the summary", END, "next") in edges
    assert ("Finish the run", "Fail: RunNotFinished", "catch") in edges
    for name, state in ASL["States"].items():
        if "Next" in state:
            assert (name, state["Next"], "next") in edges


def test_catch_edges_are_drawn_as_catch() -> None:
    asl = {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Next": "Done", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}]},
            "Recover": {"Type": "Pass", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    edges = {(e.source, e.target, e.kind) for e in graph_of(asl).edges}
    assert ("Work", "Recover", "catch") in edges and ("Done", END, "next") in edges


def test_layout_goes_top_down_and_no_two_nodes_overlap() -> None:
    graph = layout(graph_of(ASL))
    nodes = list(graph.nodes.values())
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            apart_x = abs(a.x - b.x) >= (a.width + b.width) / 2
            apart_y = abs(a.y - b.y) >= (a.height + b.height) / 2
            assert apart_x or apart_y, (a.name, b.name)
    for edge in graph.edges:  # every edge goes down the page: the graph is a DAG laid out by rank
        assert graph.nodes[edge.source].y < graph.nodes[edge.target].y
        assert len(edge.points) >= 2
    assert graph.nodes[START].y < graph.nodes["Resolve the scan plan"].y < graph.nodes[END].y
    assert all(n.x - n.width / 2 >= 0 and n.x + n.width / 2 <= graph.width for n in nodes)


def test_statuses_follow_the_history() -> None:
    events = [
        {"type": "ExecutionStarted", "executionStartedEventDetails": {"input": "{}"}},
        entered("A", {"in": 1}),
        failed("Lambda.ServiceException"),  # retried, then succeeded
        {"type": "TaskScheduled", "taskScheduledEventDetails": {}},
        exited("A", {"out": 1}),
        entered("B"),
        failed("PermanentError", "boom"),
        exited("B"),  # caught: the state exits after its failure
        entered("C"),
        failed("Fatal", "no catcher"),
        {"type": "ExecutionFailed", "executionFailedEventDetails": {"error": "Fatal"}},
    ]
    runs = statuses(events, "FAILED")
    assert runs["A"].status == SUCCEEDED and runs["A"].input == {"in": 1} and runs["A"].output == {"out": 1}
    assert runs["B"].status == CAUGHT and runs["B"].error == "PermanentError" and runs["B"].cause == "boom"
    assert runs["C"].status == FAILED and runs["C"].error == "Fatal"
    assert "D" not in runs  # never entered: the page draws it as NOT_ENTERED
    assert NOT_ENTERED == "not-entered"


def test_a_state_still_running_is_running_only_while_the_execution_runs() -> None:
    events = [entered("A"), exited("A"), entered("B", kind="Map")]
    assert statuses(events, "RUNNING")["B"].status == RUNNING
    assert statuses(events, "ABORTED")["B"].status == FAILED
