"""The simulator's state: rows per (account, region), the estate across them, and what an operation sees.

:class:`Estate` is everything DRS knows across accounts and regions (region states, staging trust,
extensions, disabled regions); :class:`RegionState` is DRS in one account and region; :class:`Ctx` is
what one operation gets. The engine's lock guards all of it: nothing here locks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import ids
from .errors import DrsError
from .specs import Ec2Bridge, Json

__all__ = ["NOT_REPLICATING", "Ctx", "Estate", "Operation", "RegionState", "Table"]

NOT_REPLICATING = frozenset({"DISCONNECTED", "STOPPED"})
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_REPLICATING_SERVERS = 300  # documented DRS quota per account (and region)


class Table:
    """Rows in insertion order with a stable sequence number each (keyset pagination survives deletes)."""

    def __init__(self) -> None:
        self.rows: dict[str, Json] = {}
        self.seq: dict[str, int] = {}
        self._next = 0

    def put(self, key: str, row: Json) -> Json:
        if key not in self.rows:
            self.seq[key] = self._next
            self._next += 1
        self.rows[key] = row
        return row

    def get(self, key: str) -> Json | None:
        return self.rows.get(key)

    def pop(self, key: str) -> Json | None:
        self.seq.pop(key, None)
        return self.rows.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def values(self) -> Iterable[Json]:
        return self.rows.values()

    def items(self) -> Iterable[tuple[str, Json]]:
        return self.rows.items()


class RegionState:
    """DRS in one account and region."""

    def __init__(self, account: str, region: str, *, initialized: bool, rng: random.Random) -> None:
        self.account = account
        self.region = region
        self.initialized = initialized
        self.rng = rng
        self.servers = Table()
        self.recovery_instances = Table()
        self.jobs = Table()
        self.job_work: dict[str, Any] = {}  # jobID -> jobs.JobWork of a job still running
        self.job_log: dict[str, list[Json]] = {}  # jobID -> DescribeJobLogItems items
        self.templates = Table()
        self.launch_configs: dict[str, Json] = {}
        self.replication_configs: dict[str, Json] = {}
        self.server_template: dict[str, str] = {}

    def arn(self, resource_type: str, resource_id: str) -> str:
        return ids.make_arn(self.region, self.account, resource_type, resource_id)

    def server(self, sid: str) -> Json:
        s = self.servers.get(sid)
        if s is None:
            raise DrsError(
                "ResourceNotFoundException",
                f"Source server {sid} not found",
                resourceId=sid,
                resourceType="SOURCE_SERVER",
            )
        return s

    def replicating_count(self) -> int:
        return sum(
            1 for s in self.servers.values() if s["dataReplicationInfo"]["dataReplicationState"] not in NOT_REPLICATING
        )

    def initialize(self) -> None:
        """InitializeService: DRS creates the region's default replication configuration template."""
        self.initialized = True
        if not len(self.templates):
            self._create_template()

    def default_template(self) -> Json:
        for tpl in self.templates.values():
            return tpl
        return self._create_template()

    def _create_template(self) -> Json:
        tid = ids.template_id(self.rng)
        subnet = "subnet-" + "".join(self.rng.choice("0123456789abcdef") for _ in range(17))
        tpl: Json = {
            "replicationConfigurationTemplateID": tid,
            "arn": self.arn("replication-configuration-template", tid),
            "stagingAreaSubnetId": subnet,
            "associateDefaultSecurityGroup": True,
            "replicationServersSecurityGroupsIDs": [],
            "replicationServerInstanceType": "t3.small",
            "useDedicatedReplicationServer": False,
            "defaultLargeStagingDiskType": "GP3",
            "ebsEncryption": "DEFAULT",
            "bandwidthThrottling": 0,
            "dataPlaneRouting": "PRIVATE_IP",
            "createPublicIP": False,
            "stagingAreaTags": {},
            "tags": {},
            "autoReplicateNewDisks": True,
            "internetProtocol": "IPV4",
            "pitPolicy": [
                {"ruleID": 1, "units": "MINUTE", "interval": 10, "retentionDuration": 60, "enabled": True},
                {"ruleID": 2, "units": "HOUR", "interval": 1, "retentionDuration": 24, "enabled": True},
                {"ruleID": 3, "units": "DAY", "interval": 1, "retentionDuration": 7, "enabled": True},
            ],
        }
        self.templates.put(tid, tpl)
        return tpl


class Estate:
    """DRS across every account and region, plus the settings operations read.

    ``ec2`` and ``default_page_size`` are wiring, kept by :meth:`clear`; everything else is state.
    """

    def __init__(self, *, default_page_size: int, ec2: Ec2Bridge | None) -> None:
        self.default_page_size = default_page_size
        self.ec2 = ec2
        self.clear(seed=0, max_replicating_servers=DEFAULT_MAX_REPLICATING_SERVERS)

    def clear(self, *, seed: int, max_replicating_servers: int) -> None:
        self.seed = seed
        self.max_replicating_servers = max_replicating_servers
        self.default_initialized = True
        self.account_initialized: dict[str, bool] = {}
        self.regions: dict[tuple[str, str], RegionState] = {}
        self.disabled: set[tuple[str, str]] = set()
        self.trust: dict[str, set[str]] = {}
        self.extensions: dict[str, set[tuple[str, str, str]]] = {}  # staging ARN -> (target, region, id)

    def region(self, account: str, region: str) -> RegionState:
        """The state of (account, region), created on first use (initialized as the account's default says)."""
        key = (account, region)
        st = self.regions.get(key)
        if st is None:
            rng = random.Random(f"{self.seed}:{account}:{region}")
            st = self.regions[key] = RegionState(account, region, initialized=False, rng=rng)
            if self.account_initialized.get(account, self.default_initialized):
                st.initialize()
        return st

    def existing(self, account: str, region: str) -> RegionState | None:
        """The state of (account, region) if anything created it (reads that must not create one)."""
        return self.regions.get((account, region))

    def is_initialized(self, account: str, region: str) -> bool:
        st = self.regions.get((account, region))
        if st is not None:
            return st.initialized
        return self.account_initialized.get(account, self.default_initialized)

    def check_trust(self, target: str, staging: str) -> None:
        if staging not in self.trust.get(target, ()):
            raise DrsError(
                "AccessDeniedException",
                f"Account {target} is not trusted by staging account {staging}",
            )

    def extended_into(self, staging_arn: str, target: str, region: str) -> bool:
        """Whether the staging server ``staging_arn`` already has an extension in (target, region)."""
        return any(t == target and r == region for t, r, _ in self.extensions.get(staging_arn, ()))


@dataclass
class Ctx:
    """What one operation sees: the estate, the caller's (account, region) and the operation's name."""

    estate: Estate
    state: RegionState
    operation: str

    @property
    def account(self) -> str:
        return self.state.account

    @property
    def region(self) -> str:
        return self.state.region


Operation = Callable[[Ctx, Json], Json | None]
"""An implemented DRS operation: the parsed, validated request in, the response body (or nothing) out."""
