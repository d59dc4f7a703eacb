"""The sandbox's EventBridge is as strict as AWS on the event path: the hub bus's resource policy, the
forwarding role's trust and permissions, and the organization condition all decide, and a refusal starts
nothing."""

import json

from sandbox import Sandbox
from sandbox.drs import events

A = "111111111111"
FLEET = {"seed": 2, "accounts": [{"accountId": A, "regions": {"us-east-1": {"sourceServers": 2}}}]}
ORGANIZATION = "o-abcdefghij"


def inventory_runs(sb):
    sfn = sb.client("stepfunctions")
    return [
        e for e in sfn.list_executions(stateMachineArn=sb.state_machine_arn("inventory"))["executions"]
        if "-event-" in e["name"]
    ]  # fmt: skip


def emit_one(sb, region="eu-west-1"):
    since = len(sb.eventbridge.deliveries)
    sb.engine.emit(A, region, events.api_call("InitializeService", A, region, None), 0)
    sb.advance(30)
    return sb.eventbridge.deliveries[since:]


def test_the_bus_policy_and_the_forwarding_role_each_refuse_and_nothing_starts():
    # a hub whose bus admits no other account: neither FleetOrganizationId nor EventSourceAccountIds
    with Sandbox(fleet=FLEET, parameters={"DrsRegions": "eu-west-1,us-east-1"}) as sb:
        [step] = emit_one(sb)
        assert step.kind == "refused" and "resource policy" in step.detail and A in step.detail
        iam = sb.client("iam", account=A)
        [role] = [r for r in iam.list_roles()["Roles"] if "ForwardDrsEventsRole" in r["RoleName"]]
        [policy] = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
        other_bus = "arn:aws:events:us-east-1:123456789012:event-bus/other"
        elsewhere = {"Effect": "Allow", "Action": "events:PutEvents", "Resource": other_bus}
        document = json.dumps({"Version": "2012-10-17", "Statement": [elsewhere]})
        iam.put_role_policy(RoleName=role["RoleName"], PolicyName=policy, PolicyDocument=document)
        [step] = emit_one(sb)
        assert step.kind == "refused" and "may not events:PutEvents" in step.detail
        assert inventory_runs(sb) == []


def test_the_organization_condition_admits_only_the_organizations_accounts():
    parameters = {"DrsRegions": "eu-west-1,us-east-1", "FleetOrganizationId": ORGANIZATION}
    with Sandbox(fleet=FLEET, parameters=parameters) as sb:
        [step] = emit_one(sb)
        assert step.kind == "refused"  # the sandbox knows no organization of the account yet
        sb.eventbridge.organizations[A] = ORGANIZATION
        steps = emit_one(sb, "us-east-1")
        assert [s.kind for s in steps] == ["forwarded", "invoked"]
        assert steps[1].result["outcome"] == "handled"
        assert len(inventory_runs(sb)) == 1
