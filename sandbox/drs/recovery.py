"""Recovery instances: launching them (StartRecovery), terminating them, listing them, and reverse replication."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from . import ids
from .errors import DrsError
from .jobs import Allowed, add_participant, defer, log_event, new_job
from .paging import page
from .servers import GIB, new_server
from .specs import InstanceInfo, InstanceSpec, Json, ServerSpec
from .state import Ctx, Estate, Operation, RegionState

__all__ = ["OPERATIONS", "recover", "reverse", "terminate"]


def recover(estate: Estate, st: RegionState, server_ids: list[str], *, drill: bool, tags: dict[str, str]) -> Json:
    """A launch job done at once (seeding): every launchable server gets a fresh recovery instance."""
    job = new_job(st, "LAUNCH", "START_DRILL" if drill else "START_RECOVERY", tags)
    for sid in server_ids:
        add_participant(job, sid, "PENDING", None)
    _launch(estate, st, job, drill, _anyone)
    return job


def _anyone(action: str, resource: str) -> bool:
    return True


def _launch(estate: Estate, st: RegionState, job: Json, drill: bool, allowed: Allowed) -> None:
    """The launch job's work: unknown or disconnected servers, and every server when the caller may not
    run EC2 instances through DRS, fail to launch; the others replace their previous recovery instance."""
    launchable: list[Json] = []
    for participant in job["participatingServers"]:
        s = st.servers.get(participant["sourceServerID"])
        if s is not None and s["dataReplicationInfo"]["dataReplicationState"] != "DISCONNECTED":
            launchable.append(s)
    denied = _denied(allowed, LAUNCH_EC2_ACTIONS, f"arn:aws:ec2:{st.region}:{st.account}:instance/*")
    if denied:
        launchable = []
    old = [s["recoveryInstanceId"] for s in launchable if s.get("recoveryInstanceId")]
    if old:
        terminate(estate, st, old)  # a new launch replaces the server's previous recovery instance
    specs = [
        InstanceSpec(
            tags=_recovery_instance_tags(st, s),
            instance_type=s["sourceProperties"].get("recommendedInstanceType") or "m5.large",
        )
        for s in launchable
    ]
    launched: dict[str, str] = {}
    for s, info in zip(launchable, _run_instances(estate, st, specs) if specs else [], strict=True):
        launched[s["sourceServerID"]] = _new_recovery_instance(st, s, info, job["jobID"], drill)["recoveryInstanceID"]
    for participant in job["participatingServers"]:
        sid = participant["sourceServerID"]
        if sid in launched:
            participant["recoveryInstanceID"] = launched[sid]
            participant["launchStatus"] = "LAUNCHED"
            log_event(st, job, "LAUNCH_START", {"sourceServerID": sid, "targetInstanceID": launched[sid]})
        else:
            participant["launchStatus"] = "FAILED"
            log_event(st, job, "LAUNCH_FAILED", {"sourceServerID": sid, "rawError": denied or "cannot be launched"})


LAUNCH_EC2_ACTIONS = ("ec2:RunInstances", "ec2:CreateTags")
TERMINATE_EC2_ACTIONS = ("ec2:TerminateInstances",)


def _denied(allowed: Allowed, actions: tuple[str, ...], resource: str) -> str | None:
    """The error EC2 gives DRS when the job's caller lacks one of ``actions`` (``None``: all allowed)."""
    for action in actions:
        if not allowed(action, resource):
            return (
                f"UnauthorizedOperation: You are not authorized to perform this operation. "
                f"User is not authorized to perform: {action} on resource: {resource} "
                f"because no identity-based policy allows the {action} action"
            )
    return None


def _recovery_instance_tags(st: RegionState, server: Json) -> dict[str, str]:
    tags = {"Name": server["sourceProperties"]["identificationHints"].get("hostname", server["sourceServerID"])}
    if st.launch_configs.get(server["sourceServerID"], {}).get("copyTags"):
        tags.update({k: v for k, v in server.get("tags", {}).items() if not k.startswith("aws:")})
    return tags


def _run_instances(estate: Estate, st: RegionState, specs: list[InstanceSpec]) -> list[InstanceInfo]:
    if estate.ec2 is not None:
        return estate.ec2.run_instances(st.account, st.region, specs, seed=st.rng.getrandbits(64))
    return [InstanceInfo(ids.ec2_instance_id(st.rng), f"{st.region}a") for _ in specs]


def _new_recovery_instance(st: RegionState, s: Json, info: InstanceInfo, job_id: str, drill: bool) -> Json:
    now = ids.iso_now()
    rid = info.instance_id
    ri: Json = {
        "recoveryInstanceID": rid,
        "ec2InstanceID": rid,
        "ec2InstanceState": "RUNNING",
        "jobID": job_id,
        "sourceServerID": s["sourceServerID"],
        "arn": st.arn("recovery-instance", rid),
        "tags": {},
        "isDrill": drill,
        "originEnvironment": "AWS" if "sourceCloudProperties" in s else "ON_PREMISES",
        "pointInTimeSnapshotDateTime": ids.iso_now(600),
        "agentVersion": s.get("agentVersion", "4.9.2.1"),
        "failback": {"state": "FAILBACK_NOT_STARTED"},
        "recoveryInstanceProperties": _instance_properties(st, s["sourceProperties"], info, now),
    }
    if "sourceCloudProperties" in s:
        ri["originAvailabilityZone"] = s["sourceCloudProperties"]["originAvailabilityZone"]
    st.recovery_instances.put(rid, ri)
    s["recoveryInstanceId"] = rid
    s["lastLaunchResult"] = "SUCCEEDED"
    s["lifeCycle"]["lastLaunch"] = {
        "initiated": {"apiCallDateTime": now, "jobID": job_id, "type": "DRILL" if drill else "RECOVERY"},
        "status": "LAUNCHED",
    }
    return ri


def _instance_properties(st: RegionState, sp: Json, info: InstanceInfo, now: str) -> Json:
    """``recoveryInstanceProperties``: the source server's hardware on the launched instance."""
    nic = {"macAddress": info.mac_address or ids.mac_address(st.rng), "ips": [info.private_ip or "10.0.0.10"]}
    return {
        "lastUpdatedDateTime": now,
        "identificationHints": {
            "hostname": sp["identificationHints"].get("hostname", ""),
            "awsInstanceID": info.instance_id,
        },
        "networkInterfaces": [{**nic, "isPrimary": True}],
        "disks": [
            {"internalDeviceName": d["deviceName"], "bytes": d["bytes"], "ebsVolumeID": ids.ebs_volume_id(st.rng)}
            for d in sp.get("disks", [])
        ],
        "cpus": copy.deepcopy(sp.get("cpus", [])),
        "ramBytes": sp.get("ramBytes", 0),
        "os": copy.deepcopy(sp.get("os", {})),
    }


def terminate(estate: Estate, st: RegionState, recovery_instance_ids: list[str]) -> list[Json]:
    """Remove the recovery instances (and their EC2 instances); unknown ids are skipped."""
    removed = [ri for rid in recovery_instance_ids if (ri := st.recovery_instances.pop(rid)) is not None]
    for ri in removed:
        s = st.servers.get(ri["sourceServerID"])
        if s is not None and s.get("recoveryInstanceId") == ri["recoveryInstanceID"]:
            s.pop("recoveryInstanceId", None)
    if removed and estate.ec2 is not None:
        estate.ec2.terminate_instances(st.account, st.region, [ri["ec2InstanceID"] for ri in removed])
    return removed


def reverse(estate: Estate, st: RegionState, recovery_instance_id: str) -> str:
    """ReverseReplication: a FAILBACK server in the original region; returns its ARN (the same ARN again)."""
    ri = st.recovery_instances.get(recovery_instance_id)
    if ri is None:
        raise DrsError(
            "ResourceNotFoundException",
            f"Recovery instance {recovery_instance_id} not found",
            resourceId=recovery_instance_id,
            resourceType="RECOVERY_INSTANCE",
        )
    original = st.servers.get(ri["sourceServerID"])
    if original is None or "sourceCloudProperties" not in original:
        raise DrsError(
            "ValidationException",
            "Reverse replication is only supported for source servers that run in AWS",
            reason="other",
        )
    existing: str | None = original.get("reversedDirectionSourceServerArn")
    if existing:
        return existing  # idempotent: the reversed server already exists
    target = _failback_region(estate, st, original["sourceCloudProperties"]["originRegion"])
    reversed_server = new_server(target, _failback_spec(st, ri, original))
    reversed_server["replicationDirection"] = "FAILBACK"
    reversed_server["reversedDirectionSourceServerArn"] = original["arn"]
    original["reversedDirectionSourceServerArn"] = reversed_server["arn"]
    ri["failback"] = {
        "state": "FAILBACK_IN_PROGRESS",
        "failbackInitiationTime": ids.iso_now(),
        "failbackToOriginalServer": False,
        "failbackLaunchType": "RECOVERY",
    }
    arn: str = reversed_server["arn"]
    return arn


def _failback_region(estate: Estate, st: RegionState, origin_region: str) -> RegionState:
    if origin_region == st.region:
        raise DrsError(
            "ValidationException",
            "Reverse replication needs the original source region to differ from the recovery region",
            reason="other",
        )
    target = estate.region(st.account, origin_region)
    if not target.initialized:
        raise DrsError(
            "ValidationException",
            f"Elastic Disaster Recovery is not initialized in {origin_region}",
            reason="other",
        )
    return target


def _failback_spec(st: RegionState, ri: Json, original: Json) -> ServerSpec:
    """The failback server replicates the recovery instance back: its hardware, the original's identity."""
    sp = original["sourceProperties"]
    return ServerSpec(
        hostname=sp["identificationHints"].get("hostname", ""),
        fqdn=sp["identificationHints"].get("fqdn"),
        aws_instance_id=ri["ec2InstanceID"],
        origin_account=st.account,
        origin_region=st.region,
        origin_availability_zone=ri.get("originAvailabilityZone") or f"{st.region}a",
        replication_state="INITIAL_SYNC",
        os=sp["os"].get("fullString", ""),
        architecture=sp.get("architecture", "x86_64"),
        cores=sp["cpus"][0]["cores"] if sp.get("cpus") else 2,
        ram_gib=max(1, sp.get("ramBytes", 0) // GIB),
        disks_gib=tuple(max(1, d["bytes"] // GIB) for d in sp.get("disks", [])) or (20,),
        ips=tuple(ri["recoveryInstanceProperties"]["networkInterfaces"][0]["ips"]),
        instance_type=sp.get("recommendedInstanceType", "m5.large"),
        tags=dict(original.get("tags", {})),
        added_days_ago=0.0,
    )


# ------------------------------------------------------------------------------------ operations
def start_recovery(ctx: Ctx, p: Json) -> Json:
    drill = bool(p.get("isDrill"))
    job = new_job(ctx.state, "LAUNCH", "START_DRILL" if drill else "START_RECOVERY", p.get("tags") or {})
    for x in p["sourceServers"]:
        add_participant(job, x["sourceServerID"], "PENDING", None)
    estate, st = ctx.estate, ctx.state
    defer(st, job, lambda j, allowed: _launch(estate, st, j, drill, allowed))
    return {"job": job}


def terminate_recovery_instances(ctx: Ctx, p: Json) -> Json:
    """A terminate job over the recovery instances DRS has; its work terminates those the caller may."""
    st = ctx.state
    job = new_job(st, "TERMINATE", "TERMINATE_RECOVERY_INSTANCES", {})
    for rid in p["recoveryInstanceIDs"]:
        ri = st.recovery_instances.get(rid)
        if ri is not None:
            add_participant(job, ri["sourceServerID"], "PENDING", rid)
    estate = ctx.estate
    defer(st, job, lambda j, allowed: _terminate_job(estate, st, j, allowed))
    return {"job": job}


def _terminate_job(estate: Estate, st: RegionState, job: Json, allowed: Allowed) -> None:
    for participant in job["participatingServers"]:
        rid = participant["recoveryInstanceID"]
        ri = st.recovery_instances.get(rid)
        resource = f"arn:aws:ec2:{st.region}:{st.account}:instance/{ri['ec2InstanceID'] if ri else rid}"
        denied = _denied(allowed, TERMINATE_EC2_ACTIONS, resource)
        if ri is not None and denied is None:
            terminate(estate, st, [rid])
            participant["launchStatus"] = "TERMINATED"
            log_event(st, job, "CLEANUP_END", {"sourceServerID": participant["sourceServerID"]})
        else:
            participant["launchStatus"] = "FAILED"
            error = denied or f"Recovery instance {rid} no longer exists"
            log_event(st, job, "CLEANUP_FAIL", {"sourceServerID": participant["sourceServerID"], "rawError": error})


def describe_recovery_instances(ctx: Ctx, p: Json) -> Json:
    f = p.get("filters") or {}
    rows: Iterable[Json] = ctx.state.recovery_instances.values()
    if f.get("recoveryInstanceIDs"):
        wanted = set(f["recoveryInstanceIDs"])
        rows = (r for r in rows if r["recoveryInstanceID"] in wanted)
    if f.get("sourceServerIDs"):
        wanted_servers = set(f["sourceServerIDs"])
        rows = (r for r in rows if r["sourceServerID"] in wanted_servers)
    return page(ctx, ctx.state.recovery_instances, list(rows), p, key="recoveryInstanceID")


def reverse_replication(ctx: Ctx, p: Json) -> Json:
    return {"reversedDirectionSourceServerArn": reverse(ctx.estate, ctx.state, p["recoveryInstanceID"])}


OPERATIONS: dict[str, Operation] = {
    "StartRecovery": start_recovery,
    "TerminateRecoveryInstances": terminate_recovery_instances,
    "DescribeRecoveryInstances": describe_recovery_instances,
    "ReverseReplication": reverse_replication,
}
