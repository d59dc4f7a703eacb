"""EventBridge Scheduler in the sandbox: the template's schedules start their state machines on the sandbox clock.

The deployer creates each AWS::Scheduler::Schedule in moto's scheduler backend, which only stores it. Here
each schedule fires as the service would: a rate expression's first run comes one rate after the schedule
was created, then one every rate; a DISABLED schedule never fires; a FLEXIBLE window fires at a point within
the window (the same one every time for one schedule, so a run can be repeated). Firing reads the schedule
again (an UpdateSchedule or DeleteSchedule under `serve` counts) and calls StartExecution on its target
with its Input, after checking what the service would: the target role trusts scheduler.amazonaws.com and
its policies allow states:StartExecution on the target (moto's IAM policy evaluation). A refused or failed
start is kept in `Scheduler.firings` with its error, as the service's target-error metrics would show it.

When does time pass for a schedule? Under a `RealClock` (`serve`, `--speed N`) a thread fires each schedule
as the clock passes its time. Under the `VirtualClock` schedules fire on `Sandbox.advance`, which moves
the clock on from one firing time to the next and lets the runs started at each go on (on the clock, so
their own waits are skipped) until they end or the next firing comes: a run still in flight then meets the
next one, as in AWS. The virtual clock's own jumps (a run's retry backoff skipped) do not fire schedules:
they stand for waiting that a test did not ask for.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import RealClock, SandboxClock

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((?P<value>[1-9]\d*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"
START_EXECUTION = "states:StartExecution"


class ScheduleError(ValueError):
    """A schedule the sandbox cannot run as the service would (an expression it does not evaluate)."""


def rate_seconds(expression: str) -> int:
    """Seconds between runs of `rate(value unit)`; as the service, `1` takes the singular unit, more the plural."""
    match = _RATE.match(expression.strip())
    if match is None:
        raise ScheduleError(f"{expression!r}: the sandbox fires rate(value unit) schedules only")
    value, unit = int(match["value"]), match["unit"]
    if (value == 1) != (not unit.endswith("s")):
        raise ScheduleError(f"{expression!r}: write rate(1 {unit.rstrip('s')}) or rate({value} {unit.rstrip('s')}s)")
    return value * _UNIT_SECONDS[unit.rstrip("s")]


def _window_seconds(window: dict[str, Any], name: str) -> float:
    """Where in its flexible window a schedule fires: 0 for OFF, else a point fixed by the schedule's name."""
    if (window or {}).get("Mode", "OFF") == "OFF":
        return 0.0
    minutes = int(window.get("MaximumWindowInMinutes") or 0)
    fraction = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return fraction * minutes * 60


@dataclass
class Schedule:
    name: str
    group: str
    every: int  # seconds
    next_due: float  # clock.monotonic() of the next firing, window included


@dataclass(frozen=True)
class Firing:
    """One firing of a schedule: the execution it started, or why it started none."""

    schedule: str
    scheduled: datetime  # the time it was due (the service's scheduled time)
    at: datetime  # when it fired: later under load, never earlier
    execution_arn: str | None = None
    error: str | None = None


class Scheduler:
    """The template's schedules on `clock`; `client(service)` makes boto3 clients of the stack's account."""

    def __init__(self, clock: SandboxClock, client: Callable[[str], Any], running: Callable[[], list[Any]]) -> None:
        self.clock = clock
        self._client = client
        self._running = running
        self.schedules: list[Schedule] = []
        self.firings: list[Firing] = []
        self.unsupported: list[str] = []  # schedules that never fire here, and why
        # Other timers on the same clock (sandbox/eventbridge.py): each has next_due() and fire_due().
        self.sources: list[Any] = []
        self._refused: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def load(self) -> Scheduler:
        """Take in every schedule not known yet (of every group), due one rate from now: those of the template
        were created just now, one made later through the API is first seen now; a deleted one is let go."""
        scheduler = self._client("scheduler")
        now = self.clock.monotonic()
        seen: set[tuple[str, str]] = set()
        with self._lock:
            known = {(s.name, s.group) for s in self.schedules}
            for page in scheduler.get_paginator("list_schedules").paginate():
                for item in page["Schedules"]:
                    key = (item["Name"], item.get("GroupName") or "default")
                    seen.add(key)
                    if key not in known and key not in self._refused:
                        self._take_in(scheduler.get_schedule(Name=key[0], GroupName=key[1]), now)
            self.schedules = [s for s in self.schedules if (s.name, s.group) in seen]
        return self

    def _take_in(self, full: dict[str, Any], now: float) -> None:
        name, group = full["Name"], full.get("GroupName") or "default"
        try:
            every = rate_seconds(full["ScheduleExpression"])
        except ScheduleError as exc:
            log.warning("schedule %s never fires in the sandbox: %s", name, exc)
            self._refused.add((name, group))
            self.unsupported.append(f"{name}: {exc}")
            return
        offset = _window_seconds(full.get("FlexibleTimeWindow") or {}, name)
        self.schedules.append(Schedule(name, group, every, now + every + offset))

    def start(self) -> Scheduler:
        """Under a real clock, a thread fires the schedules as the clock passes them."""
        if isinstance(self.clock, RealClock) and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sandbox-scheduler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self.clock.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        while not self._stopped.is_set():
            # No deadline of its own (None): a sleeping scheduler must not count as a wake-up to jump to.
            self.clock.wait_until(self._time_to_fire, None, poll=0.2, real_limit=1.0)
            if not self._stopped.is_set():
                self.load()  # schedules made or deleted through the API meanwhile
                self.fire_due()

    def _time_to_fire(self) -> bool:
        due = self.next_due()
        return self._stopped.is_set() or (due is not None and self.clock.monotonic() >= due)

    # ------------------------------------------------------------------ firing
    def next_due(self) -> float | None:
        with self._lock:
            dues = [s.next_due for s in self.schedules] + [source.next_due() for source in self.sources]
            return min((d for d in dues if d is not None), default=None)

    def fire_due(self) -> list[Firing]:
        """Fire every schedule whose time has come, once per time passed (a clock moved on by an hour fires a
        5-minute schedule twelve times, each a run of its own)."""
        fired: list[Firing] = []
        with self._lock:
            now = self.clock.monotonic()
            for schedule in self.schedules:
                while schedule.next_due <= now and not self._stopped.is_set():
                    due = self.clock.date_at(schedule.next_due)
                    schedule.next_due += schedule.every
                    firing = self._fire(schedule, due)
                    if firing is not None:
                        fired.append(firing)
                        self.firings.append(firing)
        for source in list(self.sources):
            source.fire_due()
        return fired

    def _fire(self, schedule: Schedule, due: datetime) -> Firing | None:
        at = self.clock.now()
        try:
            full = self._client("scheduler").get_schedule(Name=schedule.name, GroupName=schedule.group)
        except Exception as exc:  # deleted since: the service fires it no more
            log.info("schedule %s is gone (%s): not fired", schedule.name, exc)
            return None
        if full.get("State", "ENABLED") != "ENABLED":
            return None
        target = full["Target"]
        if ":states:" not in target["Arn"] or ":stateMachine:" not in target["Arn"]:
            return Firing(schedule.name, due, at, error=f"the sandbox starts state machines only, not {target['Arn']}")
        refused = self._role_refuses(target["RoleArn"], target["Arn"])
        if refused:
            log.warning("schedule %s: %s", schedule.name, refused)
            return Firing(schedule.name, due, at, error=refused)
        try:
            arn = self._client("stepfunctions").start_execution(
                stateMachineArn=target["Arn"], name=str(uuid.uuid4()), input=target.get("Input") or "{}"
            )["executionArn"]
        except Exception as exc:
            log.warning("schedule %s: StartExecution failed: %s", schedule.name, exc)
            return Firing(schedule.name, due, at, error=f"StartExecution failed: {exc}")
        log.info("schedule %s started %s", schedule.name, arn)
        return Firing(schedule.name, due, at, execution_arn=str(arn))

    def _role_refuses(self, role_arn: str, target_arn: str) -> str | None:
        """Why the scheduler could not start `target_arn` as `role_arn`, or None when it could."""
        from .moto_patches.iam import is_allowed

        iam = self._client("iam")
        role_name = role_arn.rsplit("/", 1)[-1]
        try:
            role = iam.get_role(RoleName=role_name)["Role"]
        except Exception:
            return f"the target role {role_arn} does not exist"
        trust = json.dumps(role.get("AssumeRolePolicyDocument") or {})
        if SCHEDULER_PRINCIPAL not in trust:
            return f"the target role {role_arn} does not trust {SCHEDULER_PRINCIPAL}"
        policies = [
            json.dumps(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
            for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        ]
        for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
            policies.append(json.dumps(version["PolicyVersion"]["Document"]))
        if not is_allowed(policies, START_EXECUTION, [target_arn]):
            return f"the target role {role_arn} may not {START_EXECUTION} on {target_arn}"
        return None

    # ------------------------------------------------------------------ moving time
    def advance(self, seconds: float, *, real_limit: float = 120.0) -> list[Firing]:
        """Move the clock on by `seconds`, firing each schedule at its times on the way and letting the runs
        it starts go on until they end or the next firing comes; returns the firings."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self.load()
        end = self.clock.monotonic() + seconds
        fired: list[Firing] = []
        while (due := self.next_due()) is not None and due <= end:
            gap = due - self.clock.monotonic()
            if gap > 0:
                self.clock.advance(gap)
            fired += self.fire_due()
            until = min(self.next_due() or end, end) - self.clock.monotonic()
            if self._running():
                self.clock.wait_until(lambda: not self._running(), max(0.0, until), poll=0.01, real_limit=real_limit)
        rest = end - self.clock.monotonic()
        if rest > 0:
            self.clock.advance(rest)
        return fired


def start_scheduler(sb: Any) -> Callable[[], None]:
    """Give an open Sandbox its `scheduler`, the schedules loaded and (under a real clock) firing; returns
    what stops it."""
    from .eventbridge import start_eventbridge
    from .executions import running_executions

    scheduler = Scheduler(sb.clock, sb.client, lambda: running_executions(sb.account, sb.region))
    start_eventbridge(sb, scheduler)
    sb.scheduler = scheduler.load().start()
    return scheduler.stop
