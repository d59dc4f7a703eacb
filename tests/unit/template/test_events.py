"""The event path as the templates declare it: the hub's bus, its resource policy, its rule and the event task's
least privilege (template.yaml), and the fleet's forwarding rule and role (templates/event-forwarding.yaml)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from template_helpers import ROOT

from fleet_sync.events.drs_events import API_CALLS, SERVICE_EVENTS, rule_pattern
from sandbox import stack

FUNCTION = "DrsEventFunction"
BUS = {"Ref": "FleetEventBus"}


@cache
def hub(organization: str = "", accounts: str = "") -> dict[str, Any]:
    parameters = {"FleetOrganizationId": organization, "EventSourceAccountIds": accounts}
    return stack.translate(ROOT / "template.yaml", parameters).cfn


@cache
def forwarding() -> dict[str, Any]:
    parameters = {"HubEventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/drs-fleet-sync-drs-events"}
    return stack.translate(ROOT / "templates/event-forwarding.yaml", parameters, account="111111111111").cfn


def of_type(cfn: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in cfn["Resources"].items() if r["Type"] == rtype}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def test_the_rule_on_the_hub_bus_matches_exactly_the_events_the_task_knows():
    [(lid, rule)] = of_type(hub(), "AWS::Events::Rule").items()
    props = rule["Properties"]
    assert props["EventBusName"] == BUS
    assert props["EventPattern"] == rule_pattern()
    assert set(rule_pattern()["$or"][0]["detail-type"]) == set(SERVICE_EVENTS)
    assert set(rule_pattern()["$or"][1]["detail"]["eventName"]) == set(API_CALLS)
    [target] = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    permission = of_type(hub(), "AWS::Lambda::Permission")[f"{lid}Permission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": [lid, "Arn"]}


@pytest.mark.parametrize(
    ("organization", "accounts", "expected"),
    [
        ("", "", set()),
        ("o-abcdefghij", "", {"FleetEventBusOrganizationPolicy"}),
        ("", "111111111111,222222222222", {"FleetEventBusAccountsPolicy"}),
        ("o-abcdefghij", "111111111111", {"FleetEventBusOrganizationPolicy"}),  # the organization wins
    ],
)
def test_the_bus_admits_the_organization_or_the_listed_accounts_and_nobody_else(organization, accounts, expected):
    cfn = hub(organization, accounts)
    conditions = {
        "HasFleetOrganization": bool(organization),
        "HasEventSourceAccounts": not organization and bool(accounts),
    }
    policies = of_type(cfn, "AWS::Events::EventBusPolicy")
    assert {lid for lid, p in policies.items() if conditions[p["Condition"]]} == expected
    for p in policies.values():
        s = p["Properties"]["Statement"]
        assert s["Action"] == "events:PutEvents" and s["Resource"] == {"Fn::GetAtt": ["FleetEventBus", "Arn"]}
        if s["Principal"] == "*":  # anyone only inside the organization
            assert s["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "FleetOrganizationId"}}}
        else:
            assert s["Principal"] == {"AWS": {"Ref": "EventSourceAccountIds"}} and "Condition" not in s


def test_the_event_task_may_do_exactly_what_it_does():
    role = of_type(hub(), "AWS::IAM::Role")[f"{FUNCTION}Role"]
    granted = {s["Sid"]: s for s in statements(role)}
    assert set(granted) == {
        "ReadTheEventsAccount",
        "MarkThePairActive",
        "OpenAndCloseThePairsDebounceWindow",
        "BumpTheRegionCacheGeneration",
        "StartScopedSyncsOfThePair",
    }
    assert granted["ReadTheEventsAccount"]["Action"] == "dynamodb:GetItem"
    assert granted["MarkThePairActive"]["Action"] == "dynamodb:UpdateItem"
    window = granted["OpenAndCloseThePairsDebounceWindow"]
    assert window["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["event#*"]}}
    cache_key = granted["BumpTheRegionCacheGeneration"]
    assert cache_key["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["cache#regions"]}}
    machines = granted["StartScopedSyncsOfThePair"]["Resource"]
    assert machines == [
        {"Ref": "InventorySyncStateMachine"},
        {"Ref": "RecoveryInstancesSyncStateMachine"},
        {"Ref": "StagingSyncStateMachine"},
    ]
    assert not [s for s in statements(role) if "sts:AssumeRole" in json.dumps(s)]


def test_the_event_task_has_its_log_group_with_retention():
    groups = of_type(hub(), "AWS::Logs::LogGroup")
    group = groups[f"{FUNCTION}LogGroup"]["Properties"]
    assert group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{FUNCTION}}}"}
    assert group["RetentionInDays"] == 30


def test_the_forwarding_rule_sends_every_drs_event_to_the_hub_through_a_role_that_can_do_nothing_else():
    cfn = forwarding()
    [(_, rule)] = of_type(cfn, "AWS::Events::Rule").items()
    props = rule["Properties"]
    assert props["EventBusName"] == "default" and props["EventPattern"] == {"source": ["aws.drs"]}
    [target] = props["Targets"]
    assert target["Arn"] == {"Ref": "HubEventBusArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ForwardDrsEventsRole", "Arn"]}
    role = of_type(cfn, "AWS::IAM::Role")["ForwardDrsEventsRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [grant] = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert grant["Action"] == "events:PutEvents" and grant["Resource"] == {"Ref": "HubEventBusArn"}
    assert "RoleName" not in role  # one role per region's stack instance


def test_the_hub_names_its_bus_for_the_forwarding_stacks():
    assert hub()["Outputs"]["FleetEventBusArn"]["Value"] == {"Fn::GetAtt": ["FleetEventBus", "Arn"]}
