"""Scoped recovery-instance runs and full runs never write the cache at the same time: a scoped run takes the
sync's lock before it starts, and its caller is told (409 SyncBusy) when another run holds it. On the
sandbox, with DRS launch and terminate jobs on the sandbox clock between the runs."""

import copy
import itertools

import pytest

from fleet_sync.syncs.recovery_instances.drs import EXECUTION_ID_TAG
from fleet_sync.syncs.recovery_instances.status import clear_status_cache
from sandbox import Sandbox
from sandbox.drs import clock as drs_clock
from sandbox.drs.jobs import JOB_SECONDS
from tests.sandbox_support import HeldLatency

A = "111111111111"
PAIR = (A, "us-east-1")
FLEET = {
    "seed": 11,
    "accounts": [
        {
            "accountId": A,
            "kind": "target",
            "regions": {"us-east-1": {"sourceServers": 24, "recoveryInstances": 6, "ec2Backed": 1.0}},
        },
    ],
}


@pytest.fixture()
def sb():
    clear_status_cache()
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters={"DrsRegions": "us-east-1"}) as box:
        box.run_sync("recovery-instances")
        yield box
    clear_status_cache()


def drs(sb):
    return sb.client("drs", account=A, region="us-east-1")


def truth(sb):
    """sourceServerID -> recoveryInstanceID of the pair, as DRS says."""
    pages = drs(sb).get_paginator("describe_recovery_instances").paginate(filters={})
    return {i["sourceServerID"]: i["recoveryInstanceID"] for p in pages for i in p["items"]}


def cache(sb):
    return {r["sourceServerID"]: r for r in sb.items("recovery-instances")}


def free_servers(sb, n):
    pages = drs(sb).get_paginator("describe_source_servers").paginate(filters={})
    free = [
        s["sourceServerID"]
        for p in pages
        for s in p["items"]
        if not s.get("recoveryInstanceId") and s["dataReplicationInfo"]["dataReplicationState"] != "DISCONNECTED"
    ]
    assert len(free) >= n
    return free[:n]


def start_launch(sb, servers, execution_id):
    drs(sb).start_recovery(
        sourceServers=[{"sourceServerID": s} for s in servers], isDrill=True, tags={EXECUTION_ID_TAG: execution_id}
    )


def scoped(servers, execution_id):
    return {"accountId": A, "region": "us-east-1", "sourceServerIDs": servers, "executionId": execution_id}


def post(sb, body):
    return sb.api("POST", "/syncs/recovery-instances", body=body)


def until_accepted(sb, body):
    """Start a run, and while another run holds the lock wait for that run (the caller's retry)."""
    for _ in range(20):
        status, answer = post(sb, body)
        if status == 202:
            return answer["executionArn"]
        assert status == 409 and answer["error"] == "SyncBusy", (status, answer)
        holder = sb.items("sync-state")
        held = [i["executionArn"] for i in holder if i["pk"] == "lock#recovery-instances"]
        if held:
            sb.wait(held[0])
    raise AssertionError("never accepted")


def scan_window(sb, arn):
    """When a run's Distributed Map (its only writer) began and ended; None for a run that was skipped."""
    events = sb.history(arn)
    began = [e["timestamp"] for e in events if e["type"] == "MapStateEntered"]
    ended = [e["timestamp"] for e in events if e["type"] == "MapStateExited"]
    return (began[0], ended[-1]) if began else None


def test_a_scoped_run_beside_a_full_run_is_refused_so_the_full_runs_delete_cannot_drop_its_rows(sb):
    # A wave's launch job is under way; a full run reads DRS just before it completes, and is held (a latency
    # fault on its next DRS call) until the wave's instances exist
    wave = free_servers(sb, 2)
    start_launch(sb, wave, "exec-wave")
    sb.clock.advance(JOB_SECONDS["LAUNCH"] - 20)
    held = HeldLatency(drs_clock.current())
    previous = drs_clock.install(held)
    sb.set_faults([{"accountId": A, "operation": "DescribeSourceServers", "latencyMs": 1, "times": 1}])
    try:
        full = sb.start_sync("recovery-instances")
        assert held.entered.wait(60)  # the full run has read the recovery instances, without the wave's
        sb.clock.advance(30)  # the wave's job completes
        assert set(wave) <= set(truth(sb))
        # When the wave's caller asks for its scoped run, ten times back to back
        answers = [post(sb, scoped(wave, "exec-wave")) for _ in range(10)]
        beside = [sb.wait(a["executionArn"]) for status, a in answers if status == 202]  # none may run beside
    finally:
        held.release()
        drs_clock.install(previous)
        sb.set_faults([])
    # Then each is refused, naming the run that holds the lock; nothing was started beside it
    assert {status for status, _ in answers} == {409} and beside == []
    assert all(a["error"] == "SyncBusy" and full in a["message"] for _, a in answers)
    assert sb.wait(full)["status"] == "SUCCEEDED"
    # ... and once it has finished, the retried scoped run lands: the cache is what DRS says, without another
    # full run, and the wave's rows name their execution
    arn = until_accepted(sb, scoped(wave, "exec-wave"))
    assert sb.wait(arn)["status"] == "SUCCEEDED"
    rows = cache(sb)
    assert {s: r["recoveryInstanceID"] for s, r in rows.items()} == truth(sb)
    assert {rows[s]["sourceExecutionId"] for s in wave} == {"exec-wave"}
    assert not [i for i in sb.items("sync-state") if i["pk"] == "lock#recovery-instances"]  # released


def test_ten_scoped_runs_back_to_back_and_a_full_run_take_turns_and_end_as_drs_says(sb):
    # Ten waves launched (each its own execution), one instance terminated outside, jobs on the clock
    waves = [[s] for s in free_servers(sb, 10)]
    for i, wave in enumerate(waves):
        start_launch(sb, wave, f"exec-{i}")
    sb.clock.advance(JOB_SECONDS["LAUNCH"])
    gone = next(iter(cache(sb).values()))
    drs(sb).terminate_recovery_instances(recoveryInstanceIDs=[gone["recoveryInstanceID"]])
    sb.clock.advance(JOB_SECONDS["TERMINATE"])
    # When the ten scoped runs are asked for back to back, with a full run asked for in the middle
    answers = []
    for i, wave in enumerate(waves):
        answers.append((wave, i, *post(sb, scoped(wave, f"exec-{i}"))))
        if i == 4:
            full = sb.start_sync("recovery-instances")
    accepted = [a["executionArn"] for *_, status, a in answers if status == 202]
    refused = [(wave, i) for wave, i, status, a in answers if status == 409]
    assert accepted and refused  # they met each other's lock: one writer at a time
    assert all(a["error"] == "SyncBusy" for *_, status, a in answers if status == 409)
    # the refused callers retry until their run is accepted
    accepted += [until_accepted(sb, scoped(wave, f"exec-{i}")) for wave, i in refused]
    runs = [sb.wait(arn) for arn in [*accepted, full]]
    assert {r["status"] for r in runs} == {"SUCCEEDED"}
    # Then no two runs that wrote ran at the same time
    wrote = sorted(window for arn in [*accepted, full] if (window := scan_window(sb, arn)) is not None)
    assert all(end <= nxt for (_, end), (nxt, _) in itertools.pairwise(wrote)), wrote
    # ... and the full run either ran after the termination or is run again once it was skipped
    if len(wrote) == len(accepted):
        assert sb.run_sync("recovery-instances")["outcome"] == "complete"
    rows = cache(sb)
    assert {s: r["recoveryInstanceID"] for s, r in rows.items()} == truth(sb)
    assert gone["sourceServerID"] not in rows
    assert all(rows[wave[0]]["sourceExecutionId"] == f"exec-{i}" for i, wave in enumerate(waves))
