"""Source servers: how one is built from a :class:`ServerSpec`, registered with its configurations, listed,
disconnected and deleted."""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Iterable
from datetime import datetime

from . import clock, ids
from .errors import DrsError
from .paging import page
from .specs import Json, ServerSpec
from .state import Ctx, Operation, RegionState

__all__ = ["GIB", "OPERATIONS", "new_server", "register_server"]

GIB = 1024**3
_CPU_MODEL = "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz"


def new_server(st: RegionState, spec: ServerSpec) -> Json:
    """A source server as an installed agent reports it, registered in ``st``."""
    rng = st.rng
    sid = spec.source_server_id or ids.source_server_id(rng)
    now = clock.now()
    added = spec.added_days_ago * 86400
    disconnected = spec.replication_state == "DISCONNECTED"
    last_seen = added / 2 if disconnected else rng.uniform(5, 60)
    hints = _identification_hints(spec, rng)
    mac = spec.mac_address or ids.mac_address(rng)
    ips = list(spec.ips) or [f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(4, 254)}"]
    disks = [{"deviceName": _device_name(i, spec.os), "bytes": g * GIB} for i, g in enumerate(spec.disks_gib)]
    server: Json = {
        "sourceServerID": sid,
        "arn": st.arn("source-server", sid),
        "tags": dict(spec.tags),
        "lastLaunchResult": "NOT_STARTED",
        "dataReplicationInfo": _replication_info(spec.replication_state, disks, st.region, rng, now),
        "lifeCycle": {
            "addedToServiceDateTime": ids.iso_now(added, now=now),
            "firstByteDateTime": ids.iso_now(max(added - 120, 0), now=now),
            "elapsedReplicationDuration": _duration(added),
            "lastSeenByServiceDateTime": ids.iso_now(last_seen, now=now),
        },
        "sourceProperties": {
            "lastUpdatedDateTime": ids.iso_now(rng.uniform(60, 3600), now=now),
            "recommendedInstanceType": spec.instance_type,
            "identificationHints": hints,
            "networkInterfaces": [{"macAddress": mac, "ips": ips, "isPrimary": True}],
            "disks": disks,
            "cpus": [{"cores": spec.cores, "modelName": _CPU_MODEL}],
            "ramBytes": spec.ram_gib * GIB,
            "os": {"fullString": spec.os},
            "supportsNitroInstances": True,
            "architecture": spec.architecture,
        },
        "stagingArea": {"status": "NOT_EXTENDED"},
        "replicationDirection": "FAILOVER",
        "agentVersion": "4.9.2.1",
    }
    if spec.aws_instance_id:
        server["sourceCloudProperties"] = _cloud_properties(st, spec)
    register_server(st, server, copy_tags=spec.copy_tags)
    return server


def _identification_hints(spec: ServerSpec, rng: random.Random) -> Json:
    hints: Json = {"hostname": spec.hostname, "fqdn": spec.fqdn or spec.hostname}
    if spec.aws_instance_id:
        hints["awsInstanceID"] = spec.aws_instance_id
    else:
        hints["vmWareUuid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return hints


def _cloud_properties(st: RegionState, spec: ServerSpec) -> Json:
    origin_region = spec.origin_region or st.region
    return {
        "originAccountID": spec.origin_account or st.account,
        "originRegion": origin_region,
        "originAvailabilityZone": spec.origin_availability_zone or f"{origin_region}a",
    }


def register_server(st: RegionState, server: Json, *, copy_tags: bool = False) -> None:
    """Store ``server`` with its replication configuration (from the default template) and launch configuration."""
    sid = server["sourceServerID"]
    st.servers.put(sid, server)
    tpl = st.default_template()
    st.server_template[sid] = tpl["replicationConfigurationTemplateID"]
    config = {
        k: copy.deepcopy(v) for k, v in tpl.items() if k not in ("replicationConfigurationTemplateID", "arn", "tags")
    }
    config["replicatedDisks"] = [
        {
            "deviceName": d["deviceName"],
            "isBootDisk": i == 0,
            "stagingDiskType": "AUTO",
            "iops": 0,
            "throughput": 0,
            "optimizedStagingDiskType": "GP3",
        }
        for i, d in enumerate(server["sourceProperties"]["disks"])
    ]
    st.replication_configs[sid] = config
    st.launch_configs[sid] = {
        "ec2LaunchTemplateID": ids.launch_template_id(st.rng),
        "launchDisposition": "STARTED",
        "targetInstanceTypeRightSizingMethod": "BASIC",
        "copyPrivateIp": False,
        "copyTags": copy_tags,
        "licensing": {"osByol": False},
        "postLaunchEnabled": False,
    }


def _duration(seconds: float) -> str:
    """ISO-8601 duration, coarse as DRS shows it: ``P30D`` or ``PT45M``."""
    if seconds >= 86400:
        return f"P{int(seconds // 86400)}D"
    return f"PT{max(1, int(seconds // 60))}M"


def _device_name(index: int, os_name: str) -> str:
    if "windows" in os_name.lower():
        return f"Disk{index}"
    return "/dev/xvda" if index == 0 else f"/dev/xvd{chr(ord('a') + index)}"


def _replication_info(state: str, disks: list[Json], region: str, rng: random.Random, now: datetime) -> Json:
    if state == "DISCONNECTED":
        return {"dataReplicationState": "DISCONNECTED", "replicatedDisks": []}
    syncing = state in ("INITIAL_SYNC", "INITIATING")
    replicated = []
    for d in disks:
        total = d["bytes"]
        done = int(total * rng.uniform(0.05, 0.95)) if syncing else total
        backlog = int(total * rng.uniform(0.001, 0.05)) if state == "BACKLOG" else 0
        replicated.append(
            {
                "deviceName": d["deviceName"],
                "totalStorageBytes": total,
                "replicatedStorageBytes": done,
                "rescannedStorageBytes": 0,
                "backloggedStorageBytes": backlog,
            }
        )
    info: Json = {
        "dataReplicationState": state,
        "lagDuration": "PT0S" if state == "CONTINUOUS" else f"PT{rng.randint(2, 180)}M",
        "replicatedDisks": replicated,
        "stagingAvailabilityZone": f"{region}a",
    }
    if syncing:
        info["etaDateTime"] = ids.iso_now(-rng.uniform(600, 7200), now=now)
    if state == "STALLED":
        info["dataReplicationError"] = {"error": "AGENT_NOT_SEEN", "rawError": "Agent has not been seen for 1 hour"}
    return info


def _hardware_ids(s: Json) -> set[str]:
    hints = s["sourceProperties"]["identificationHints"]
    found = [hints.get("awsInstanceID"), hints.get("vmWareUuid")]
    found += [n.get("macAddress") for n in s["sourceProperties"].get("networkInterfaces", [])]
    return {h for h in found if h is not None}


# ------------------------------------------------------------------------------------ operations
def describe_source_servers(ctx: Ctx, p: Json) -> Json:
    f = p.get("filters") or {}
    rows: Iterable[Json] = ctx.state.servers.values()
    if f.get("sourceServerIDs"):
        wanted = set(f["sourceServerIDs"])
        rows = (s for s in rows if s["sourceServerID"] in wanted)
    if f.get("hardwareId"):
        rows = (s for s in rows if f["hardwareId"] in _hardware_ids(s))
    if f.get("stagingAccountIDs"):
        accounts = set(f["stagingAccountIDs"])
        rows = (s for s in rows if s["stagingArea"].get("stagingAccountID") in accounts)
    return page(ctx, ctx.state.servers, list(rows), p, key="sourceServerID")


def disconnect_source_server(ctx: Ctx, p: Json) -> Json:
    s = ctx.state.server(p["sourceServerID"])
    if s.get("recoveryInstanceId"):
        raise DrsError(
            "ConflictException",
            "Cannot disconnect a source server that has a recovery instance; terminate it first",
            resourceId=s["sourceServerID"],
            resourceType="SOURCE_SERVER",
        )
    s["dataReplicationInfo"] = {"dataReplicationState": "DISCONNECTED", "replicatedDisks": []}
    return s


def delete_source_server(ctx: Ctx, p: Json) -> None:
    """Deletes a disconnected server; its own extension link goes, and its extensions turn EXTENSION_ERROR."""
    s = ctx.state.server(p["sourceServerID"])
    if s.get("recoveryInstanceId") or s["dataReplicationInfo"]["dataReplicationState"] != "DISCONNECTED":
        raise DrsError(
            "ConflictException",
            "Source server must be disconnected and have no recovery instance before it can be deleted",
            resourceId=s["sourceServerID"],
            resourceType="SOURCE_SERVER",
        )
    sid = s["sourceServerID"]
    st = ctx.state
    st.servers.pop(sid)
    st.launch_configs.pop(sid, None)
    st.replication_configs.pop(sid, None)
    st.server_template.pop(sid, None)
    extensions = ctx.estate.extensions
    staging_arn = s["stagingArea"].get("stagingSourceServerArn")
    if staging_arn:
        extensions.get(staging_arn, set()).discard((ctx.account, ctx.region, sid))
    for target, region, ext_id in extensions.pop(s["arn"], set()):
        ext = ctx.estate.regions[(target, region)].servers.get(ext_id)
        if ext is not None:
            ext["stagingArea"]["status"] = "EXTENSION_ERROR"
            ext["stagingArea"]["errorMessage"] = f"Staging source server {s['arn']} was deleted"


OPERATIONS: dict[str, Operation] = {
    "DescribeSourceServers": describe_source_servers,
    "DisconnectSourceServer": disconnect_source_server,
    "DeleteSourceServer": delete_source_server,
}
