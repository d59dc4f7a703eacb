"""Jobs: the record of a launch or terminate request, and DescribeJobs.

Every job is created and progressed here. Jobs complete at once (docs/fleet.md, "Jobs complete at once"):
:func:`new_job` creates it ``COMPLETED`` and the operation that started it adds its participating servers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from . import ids
from .errors import DrsError
from .paging import page
from .specs import Json
from .state import Ctx, Operation, RegionState

__all__ = ["OPERATIONS", "add_participant", "new_job"]


def new_job(st: RegionState, job_type: str, initiated_by: str, tags: dict[str, str]) -> Json:
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
    return job


def add_participant(job: Json, source_server_id: str, launch_status: str, recovery_instance_id: str | None) -> None:
    """One server of the job and what happened to it (``LAUNCHED``, ``FAILED``, ``TERMINATED``)."""
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


OPERATIONS: dict[str, Operation] = {"DescribeJobs": describe_jobs}
