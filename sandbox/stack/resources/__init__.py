"""One creator per resource type the sandbox emulates: `creator(context, logical_id, resolved_properties)`."""

from __future__ import annotations

from ..model import Creator
from .dynamodb import create_table
from .events import create_event_bus, create_event_bus_policy, create_rule
from .functions import create_function, create_layer, create_permission
from .iam import create_managed_policy, create_policy, create_role
from .monitoring import create_alarm, create_dashboard, create_topic
from .s3 import create_bucket
from .workflows import create_log_group, create_schedule, create_state_machine, substitute

CREATORS: dict[str, Creator] = {
    "AWS::DynamoDB::Table": create_table,
    "AWS::S3::Bucket": create_bucket,
    "AWS::IAM::Role": create_role,
    "AWS::IAM::Policy": create_policy,
    "AWS::IAM::ManagedPolicy": create_managed_policy,
    "AWS::Lambda::LayerVersion": create_layer,
    "AWS::Lambda::Function": create_function,
    "AWS::Lambda::Permission": create_permission,
    "AWS::Logs::LogGroup": create_log_group,
    "AWS::StepFunctions::StateMachine": create_state_machine,
    "AWS::Scheduler::Schedule": create_schedule,
    "AWS::CloudWatch::Alarm": create_alarm,
    "AWS::CloudWatch::Dashboard": create_dashboard,
    "AWS::SNS::Topic": create_topic,
    "AWS::Events::EventBus": create_event_bus,
    "AWS::Events::EventBusPolicy": create_event_bus_policy,
    "AWS::Events::Rule": create_rule,
}
SUPPORTED_TYPES = frozenset(CREATORS)

__all__ = ["CREATORS", "SUPPORTED_TYPES", "substitute"]
