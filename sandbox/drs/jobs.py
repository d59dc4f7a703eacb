"""Jobs: the record of a launch or terminate request, its progress on the clock, DescribeJobs and its log.

A job an operation starts (StartRecovery, TerminateRecoveryInstances) is asynchronous, as in AWS: it answers
``PENDING`` with every participating server ``PENDING``, turns ``STARTED`` after :data:`PENDING_SECONDS` on
the simulator's clock (:mod:`sandbox.drs.clock`) and ``COMPLETED`` after its type's duration
(:data:`JOB_SECONDS`), when its work is done. DRS has no failed job status: a job whose work fails still
completes, with the servers it could not launch or terminate ``FAILED`` and the reason in its log items
(DescribeJobLogItems). The work runs with the EC2 permissions of whoever started the job (DRS acts with the
caller's permissions, ``aws:ViaAWSService``): :data:`CALLER` is how the front door hands them over.

Jobs progress lazily: every request to a region first brings its jobs up to the clock (:func:`progress`),
so what a caller sees depends only on the clock, never on how often it asked. Seeding (fleets) creates
jobs already ``COMPLETED``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import clock, ids
from .errors import DrsError
from .paging import page
from .specs import Json
from .state import Ctx, Operation, RegionState

__all__ = [
    "CALLER",
    "JOB_SECONDS",
    "OPERATIONS",
    "PENDING_SECONDS",
    "Allowed",
    "JobWork",
    "add_participant",
    "defer",
    "log_event",
    "new_job",
    "progress",
]

PENDING_SECONDS = 5.0
JOB_SECONDS = {"LAUNCH": 300.0, "TERMINATE": 60.0}  # a drill launch takes minutes, a termination about one

Allowed = Callable[[str, str], bool]
"""Whether the job's caller may do (action, resource ARN) through DRS (``aws:ViaAWSService`` true)."""

CALLER: contextvars.ContextVar[Allowed | None] = contextvars.ContextVar("drs_job_caller", default=None)
"""The permissions of the request being served (unset: the simulator's own seeding, which may do anything)."""


def _anyone(action: str, resource: str) -> bool:
    return True


@dataclass
class JobWork:
    """What a job still has to do, and by whose permissions."""

    started: float  # clock.monotonic() when the job was created
    duration: float
    run: Callable[[Json, Allowed], None]  # does the work; sets each participant's final launchStatus
    allowed: Allowed = field(default=_anyone)


def new_job(st: RegionState, job_type: str, initiated_by: str, tags: dict[str, str]) -> Json:
    """A ``COMPLETED`` job (seeding, and operations whose work happens at once); :func:`defer` makes it pending."""
    jid = ids.job_id(st.rng)
    now = ids.iso_now()
    job: Json = {
        "jobID": jid,
        "arn": st.arn("job", jid),
        "type": job_type,
        "initiatedBy": initiated_by,
        "creationDateTime": now,
        "endDateTime": now,
        "status": "COMPLETED",
        "participatingServers": [],
        "tags": dict(tags),
    }
    st.jobs.put(jid, job)
    st.job_log[jid] = []
    return job


def defer(st: RegionState, job: Json, run: Callable[[Json, Allowed], None]) -> None:
    """Make ``job`` asynchronous: ``PENDING`` now, its work done when its duration has passed on the clock."""
    job["status"] = "PENDING"
    job.pop("endDateTime", None)
    for participant in job["participatingServers"]:
        participant["launchStatus"] = "PENDING"
    st.job_work[job["jobID"]] = JobWork(clock.monotonic(), JOB_SECONDS[job["type"]], run, CALLER.get() or _anyone)


def progress(st: RegionState) -> None:
    """Bring every unfinished job of the region up to the clock (call under the engine's lock)."""
    now = clock.monotonic()
    for jid, work in list(st.job_work.items()):
        job = st.jobs.get(jid)
        if job is None:
            del st.job_work[jid]
            continue
        elapsed = now - work.started
        if job["status"] == "PENDING" and elapsed >= PENDING_SECONDS:
            _start(st, job, work)
        if elapsed >= work.duration:
            _finish(st, job, work)
            del st.job_work[jid]


def _at(job: Json, seconds: float) -> str:
    created = datetime.fromisoformat(job["creationDateTime"].replace("Z", "+00:00"))
    return ids.iso_now(now=created + timedelta(seconds=seconds))


def _start(st: RegionState, job: Json, work: JobWork) -> None:
    job["status"] = "STARTED"
    for participant in job["participatingServers"]:
        participant["launchStatus"] = "IN_PROGRESS"
    log_event(st, job, "JOB_START", {}, at=_at(job, PENDING_SECONDS))


def _finish(st: RegionState, job: Json, work: JobWork) -> None:
    work.run(job, work.allowed)
    job["status"] = "COMPLETED"
    job["endDateTime"] = _at(job, work.duration)
    log_event(st, job, "JOB_END", {}, at=job["endDateTime"])


def log_event(st: RegionState, job: Json, event: str, data: Json, *, at: str | None = None) -> None:
    """One DescribeJobLogItems item (``eventData`` holds ``sourceServerID``, ``rawError`` ...)."""
    item: Json = {"logDateTime": at or ids.iso_now(), "event": event}
    if data:
        item["eventData"] = data
    st.job_log.setdefault(job["jobID"], []).append(item)


def add_participant(job: Json, source_server_id: str, launch_status: str, recovery_instance_id: str | None) -> None:
    """One server of the job and what happened to it (``PENDING``, ``LAUNCHED``, ``FAILED``, ``TERMINATED``)."""
    participant: Json = {"sourceServerID": source_server_id}
    if recovery_instance_id is not None:
        participant["recoveryInstanceID"] = recovery_instance_id
    participant["launchStatus"] = launch_status
    job["participatingServers"].append(participant)


def describe_jobs(ctx: Ctx, p: Json) -> Json:
    f = p.get("filters") or {}
    rows: Iterable[Json] = ctx.state.jobs.values()
    if f.get("jobIDs"):
        wanted = set(f["jobIDs"])
        rows = (j for j in rows if j["jobID"] in wanted)
    if f.get("fromDate"):
        start = _parse_iso(f["fromDate"], "filters.fromDate")
        rows = (j for j in rows if _parse_iso(j["creationDateTime"]) >= start)
    if f.get("toDate"):
        end = _parse_iso(f["toDate"], "filters.toDate")
        rows = (j for j in rows if _parse_iso(j["creationDateTime"]) <= end)
    return page(ctx, ctx.state.jobs, list(rows), p, key="jobID")


def describe_job_log_items(ctx: Ctx, p: Json) -> Json:
    jid = p["jobID"]
    if jid not in ctx.state.jobs:
        raise DrsError("ResourceNotFoundException", f"Job {jid} not found", resourceId=jid, resourceType="JOB")
    items = ctx.state.job_log.get(jid, [])
    start = int(p.get("nextToken") or 0) if str(p.get("nextToken") or "0").isdigit() else 0
    size = int(p.get("maxResults") or 1000)
    out: Json = {"items": items[start : start + size]}
    if start + size < len(items):
        out["nextToken"] = str(start + size)
    return out


def _parse_iso(value: str, field_name: str | None = None) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DrsError(
            "ValidationException",
            f"Invalid date {value!r}",
            reason="fieldValidationFailed",
            fieldList=[{"name": field_name or "date", "message": "Not an ISO-8601 date"}],
        ) from None


OPERATIONS: dict[str, Operation] = {"DescribeJobs": describe_jobs, "DescribeJobLogItems": describe_job_log_items}
