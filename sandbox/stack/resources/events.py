"""AWS::Events::EventBus, ::EventBusPolicy and ::Rule, created in moto's EventBridge backend. moto only
stores them (its own delivery knows no Lambda target, role or bus policy): sandbox/eventbridge.py delivers."""

from __future__ import annotations

import json
from typing import Any

from ..model import DeployContext, DeployError, Resource, tags_list


def create_event_bus(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    name = str(p.get("Name") or "")
    if not name:
        raise DeployError(f"{lid}: an event bus needs its Name")
    kw: dict[str, Any] = {"Name": name}
    if p.get("Tags"):
        kw["Tags"] = tags_list(p["Tags"])
    arn = d.client("events").create_event_bus(**kw)["EventBusArn"]
    return Resource(lid, "AWS::Events::EventBus", name, {"Arn": arn, "Name": name})


def create_event_bus_policy(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    statement = p.get("Statement")
    if not isinstance(statement, dict):
        raise DeployError(f"{lid}: the sandbox takes an event bus policy's Statement, not Action/Principal/Condition")
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": p["StatementId"], **statement}]}
    d.client("events").put_permission(EventBusName=p.get("EventBusName") or "default", Policy=json.dumps(policy))
    return Resource(lid, "AWS::Events::EventBusPolicy", str(p["StatementId"]))


def create_rule(d: DeployContext, lid: str, p: dict[str, Any]) -> Resource:
    events = d.client("events")
    name = d.name_for(p, "Name", lid, 64)
    bus = p.get("EventBusName") or "default"
    kw: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": p.get("State") or "ENABLED"}
    if "EventPattern" in p:
        pattern = p["EventPattern"]
        kw["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if p.get("ScheduleExpression"):
        kw["ScheduleExpression"] = p["ScheduleExpression"]
    if p.get("Description"):
        kw["Description"] = p["Description"]
    arn = events.put_rule(**kw)["RuleArn"]
    targets = [_target(t) for t in p.get("Targets") or []]
    if targets:
        failed = events.put_targets(Rule=name, EventBusName=bus, Targets=targets).get("FailedEntries")
        if failed:
            raise DeployError(f"{lid}: targets refused: {failed}")
    return Resource(lid, "AWS::Events::Rule", name, {"Arn": arn})


def _target(t: dict[str, Any]) -> dict[str, Any]:
    keys = ("Id", "Arn", "RoleArn", "Input", "InputPath", "RetryPolicy", "DeadLetterConfig")
    return {k: t[k] for k in keys if k in t}
