"""EventBridge in the sandbox: the DRS simulator's events delivered on the sandbox clock, as the service would.

The simulator hands each event it emits (a DRS service event, or CloudTrail's record of a DRS API call) to
`EventBridge.put` with the (account, region) it happened in and a delay. When the delay has passed (on the
clock: `sb.advance` moves it, a real clock's thread fires it) the event lands on that account's default bus
in that region, and every ENABLED rule there whose pattern matches (moto's matcher, `$or` included) sends it
to each of its targets:

- an event bus: only through the target's RoleArn, which must trust events.amazonaws.com and be allowed
  events:PutEvents on that bus (moto's IAM policy evaluation), and only if the receiving bus's resource
  policy admits the sender's account (a bus always admits its own account). The event keeps its `account`,
  `region` and `source`, and the receiving bus's rules match it again;
- a Lambda function: only if the function's resource policy lets events.amazonaws.com invoke it from that
  rule; invoked asynchronously. A failed invocation is retried twice, 1 and 2 minutes later, as Lambda
  retries an asynchronous invocation.

moto stores the buses, policies and rules (sandbox/stack/resources/events.py); its own delivery knows no
Lambda target, role or bus policy, so it is not used. Every step is kept in `deliveries`.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .clock import SandboxClock

log = logging.getLogger(__name__)

EVENTS_PRINCIPAL = "events.amazonaws.com"
PUT_EVENTS = "events:PutEvents"
LAMBDA_RETRIES = (60.0, 120.0)
INVOKE_THREADS = 8  # EventBridge invokes targets concurrently


@dataclass(frozen=True)
class Delivery:
    """One step of an event's way: `kind` forwarded | refused | invoked | failed | unmatched."""

    event_id: str
    kind: str
    rule: str | None = None
    target: str | None = None
    detail: str | None = None
    result: Any = None


@dataclass(order=True)
class _Pending:
    due: float
    order: int
    event: dict[str, Any] = field(compare=False)
    bus: tuple[str, str, str] = field(compare=False)  # (account, region, bus name)
    lambda_arn: str | None = field(default=None, compare=False)  # a retry of one invocation
    attempt: int = field(default=0, compare=False)


class EventBridge:
    """Buses of every account and region (moto's), delivering on `clock`; `invoke(name, event)` runs a
    function and returns (result, error)."""

    def __init__(
        self,
        clock: SandboxClock,
        invoke: Callable[[str, Any], tuple[Any, Any]],
        client: Callable[[str, str], Any],
    ) -> None:
        self.clock = clock
        self._invoke = invoke
        self._client = client  # (service, account) -> a boto3 client acting as that account
        self._queue: list[_Pending] = []
        self._order = itertools.count()
        self._lock = threading.RLock()
        self.deliveries: list[Delivery] = []
        self.organizations: dict[str, str] = {}  # account -> organization id (aws:PrincipalOrgID)
        self.before_put: Callable[[str, str], None] | None = None  # readies (account, region) for its first event
        self._ready: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ putting
    def put(self, account: str, region: str, event: Any, *, delay: float = 0.0) -> str:
        """An AWS service's event for the default bus of (account, region), delivered `delay` seconds on. A
        callable is called then for the event (None: there is none to deliver)."""
        if self.before_put is not None and (account, region) not in self._ready:
            self.before_put(account, region)
            self._ready.add((account, region))
        full = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "account": account,
            "region": region,
            "resources": [],
            "time": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "pending": event if callable(event) else None,
            **({} if callable(event) else event),
        }
        with self._lock:
            due = self.clock.monotonic() + max(0.0, delay)
            heapq.heappush(self._queue, _Pending(due, next(self._order), full, (account, region, "default")))
        self.clock.notify()
        return str(full["id"])

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def next_due(self) -> float | None:
        with self._lock:
            return self._queue[0].due if self._queue else None

    def fire_due(self) -> list[Delivery]:
        """Deliver every event whose time has come (their Lambda targets concurrently); returns the steps."""
        now = self.clock.monotonic()
        due: list[_Pending] = []
        with self._lock:
            while self._queue and self._queue[0].due <= now:
                due.append(heapq.heappop(self._queue))
        if not due:
            return []
        before = len(self.deliveries)
        invocations: list[tuple[_Pending, str, str]] = []
        for item in due:
            if not self._complete(item):
                continue
            if item.lambda_arn is not None:
                invocations.append((item, item.lambda_arn, "retry"))
            else:
                invocations += self._route(item)
        with ThreadPoolExecutor(max_workers=INVOKE_THREADS, thread_name_prefix="sandbox-eventbridge") as pool:
            list(pool.map(lambda job: self._invoke_target(*job), invocations))
        return self.deliveries[before:]

    def _complete(self, item: _Pending) -> bool:
        """Fill in an event that is read when it is delivered; False when it turned out to be none."""
        read = item.event.pop("pending", None)
        if read is None:
            return True
        found = read()
        if found is None:
            return False
        item.event.update(found)
        return True

    # ------------------------------------------------------------------ routing
    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)
        if delivery.kind in ("refused", "failed"):
            log.warning("eventbridge: %s", delivery)

    def _route(self, item: _Pending) -> list[tuple[_Pending, str, str]]:
        """Match the event on its bus; forward to buses at once, return the Lambda invocations to make."""
        from moto.events.models import events_backends

        account, region, bus_name = item.bus
        bus = events_backends[account][region].event_buses.get(bus_name)
        matched = [r for r in (bus.rules.values() if bus else []) if r.state == "ENABLED" and _matches(r, item.event)]
        if not matched:
            self._record(Delivery(item.event["id"], "unmatched", detail=f"no rule of {account}/{region}/{bus_name}"))
        out: list[tuple[_Pending, str, str]] = []
        for rule in matched:
            for target in rule.targets:
                arn = str(target["Arn"])
                if ":event-bus/" in arn:
                    self._forward(item, rule, target)
                elif ":lambda:" in arn:
                    out.append((item, arn, rule.arn))
                else:
                    self._record(
                        Delivery(
                            item.event["id"],
                            "refused",
                            rule.arn,
                            arn,
                            "the sandbox delivers to buses and functions only",
                        )
                    )
        return out

    def _forward(self, item: _Pending, rule: Any, target: dict[str, Any]) -> None:
        arn = str(target["Arn"])
        iam = self._client("iam", item.bus[0])
        why = _role_refuses(iam, target.get("RoleArn"), arn) or self._bus_refuses(item.bus[0], arn)
        if why:
            self._record(Delivery(item.event["id"], "refused", rule.arn, arn, why))
            return
        _, _, _, region, account, resource = arn.split(":", 5)
        self._record(Delivery(item.event["id"], "forwarded", rule.arn, arn))
        routed = _Pending(item.due, next(self._order), item.event, (account, region, resource.split("/", 1)[1]))
        for job in self._route(routed):
            self._invoke_target(*job)

    def _bus_refuses(self, sender: str, bus_arn: str) -> str | None:
        from moto.events.models import events_backends

        _, _, _, region, account, resource = bus_arn.split(":", 5)
        bus = events_backends[account][region].event_buses.get(resource.split("/", 1)[1])
        if bus is None:
            return f"no event bus {bus_arn}"
        if sender == account:
            return None
        policy = json.loads(bus.policy) if bus.policy else {"Statement": []}
        if any(_admits(s, sender, bus_arn, self.organizations.get(sender)) for s in policy["Statement"]):
            return None
        return f"the resource policy of {bus_arn} does not let {sender} put events"

    # ------------------------------------------------------------------ invoking
    def _invoke_target(self, item: _Pending, function_arn: str, rule_arn: str) -> None:
        name = function_arn.split(":")[6]
        if rule_arn != "retry":
            why = _permission_refuses(function_arn, rule_arn)
            if why:
                self._record(Delivery(item.event["id"], "refused", rule_arn, function_arn, why))
                return
        result, error = self._invoke(name, item.event)
        if error is None:
            self._record(Delivery(item.event["id"], "invoked", None, function_arn, result=result))
            return
        self._record(Delivery(item.event["id"], "failed", None, function_arn, str(error), error))
        if item.attempt < len(LAMBDA_RETRIES):
            with self._lock:
                due = self.clock.monotonic() + LAMBDA_RETRIES[item.attempt]
                retry = _Pending(due, next(self._order), item.event, item.bus, function_arn, item.attempt + 1)
                heapq.heappush(self._queue, retry)


def _matches(rule: Any, event: dict[str, Any]) -> bool:
    return bool(rule.event_pattern.matches_event(event))


def _role_refuses(iam: Any, role_arn: str | None, bus_arn: str) -> str | None:
    """Why EventBridge could not put onto `bus_arn` as `role_arn` (`iam`: a client of the rule's account)."""
    from .moto_patches.iam import is_allowed

    if not role_arn:
        return f"a rule's target in another account or region needs a RoleArn ({bus_arn})"
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except Exception:
        return f"the target role {role_arn} does not exist"
    if EVENTS_PRINCIPAL not in json.dumps(role.get("AssumeRolePolicyDocument") or {}):
        return f"the target role {role_arn} does not trust {EVENTS_PRINCIPAL}"
    policies = [
        json.dumps(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
        for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
    ]
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]
        policies.append(json.dumps(document["Document"]))
    if not is_allowed(policies, PUT_EVENTS, [bus_arn]):
        return f"the target role {role_arn} may not {PUT_EVENTS} on {bus_arn}"
    return None


def _admits(statement: dict[str, Any], sender: str, bus_arn: str, organization: str | None) -> bool:
    """Whether one statement of a bus policy lets `sender` put events (the conditions the product uses)."""
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else list(actions or [])
    resources = statement.get("Resource")
    resources = [resources] if isinstance(resources, str) else list(resources or ["*"])
    if statement.get("Effect") != "Allow" or not ({PUT_EVENTS, "events:*"} & set(actions)):
        return False
    if not any(r in (bus_arn, "*") for r in resources):
        return False
    principal = statement.get("Principal")
    if principal != "*":
        named = principal.get("AWS") if isinstance(principal, dict) else None
        named = [named] if isinstance(named, str) else list(named or [])
        if not any(p in (sender, f"arn:aws:iam::{sender}:root") for p in named):
            return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, value in keys.items():
            if operator != "StringEquals" or key != "aws:PrincipalOrgID":
                log.warning("eventbridge: bus policy condition %s %s not evaluated: refused", operator, key)
                return False
            if organization is None or organization not in ([value] if isinstance(value, str) else value):
                return False
    return True


def _permission_refuses(function_arn: str, rule_arn: str) -> str | None:
    """Why EventBridge may not invoke the function from `rule_arn` (its resource policy), or None."""
    from moto.awslambda.models import lambda_backends

    _, _, _, region, account, _, name = function_arn.split(":")[:7]
    try:
        answer = json.loads(lambda_backends[account][region].get_policy(name, None))  # GetPolicy's body
        policy = json.loads(answer["Policy"])
    except Exception:
        return f"{name} has no resource policy: nothing may invoke it"
    for s in policy.get("Statement", []):
        principal = s.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        source = ((s.get("Condition") or {}).get("ArnLike") or {}).get("AWS:SourceArn")
        if s.get("Effect") == "Allow" and service == EVENTS_PRINCIPAL and source in (rule_arn, None):
            return None
    return f"the resource policy of {name} does not let {EVENTS_PRINCIPAL} invoke it from {rule_arn}"


def start_eventbridge(sb: Any, scheduler: Any) -> EventBridge:
    """Give an open Sandbox its `eventbridge`: the simulator's events delivered on the scheduler's clock. With
    a hub bus (the template's output FleetEventBusArn), every fleet account forwards its DRS events to it from
    every region DRS answers in for it (templates/event-forwarding.yaml, as the StackSet deploys it)."""
    bridge = EventBridge(sb.clock, sb.lambdas.invoke, lambda service, account: sb.client(service, account=account))
    scheduler.sources.append(bridge)
    hub_bus = (sb.deployment.outputs or {}).get("FleetEventBusArn") if sb.deployment else None
    if hub_bus:
        from .fleet.accounts import ensure_event_forwarding

        # As a service-managed StackSet with automatic deployment: every account and region has the forwarding
        # stack before its first DRS event (deployed then, so pairs that never emit cost no deployment).
        bridge.before_put = lambda account, region: ensure_event_forwarding(account, [region], str(hub_bus))
    sb.engine.event_sink = bridge.put
    sb.eventbridge = bridge
    return bridge
