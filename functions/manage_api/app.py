"""Manage API: the REST API's routes that write or start work (API Gateway, AWS_IAM authorization).

Routes: fleet_sync.api.manage (start syncs, refresh stale inventory pairs, terminate recovery instances) and
fleet_sync.api.manage_accounts (the accounts table and ExternalIds).
Only the stack's API invokes this function (its resource policy names API
Gateway and the API's ARN); a direct invocation is not an API request and is refused. Every write request
is logged with the caller's IAM ARN, as API Gateway set it (fleet_sync.api.audit).
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.api.audit import audited
from fleet_sync.api.common import require_api_gateway_event, resolve
from fleet_sync.api.manage import app
from fleet_sync.core.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    require_api_gateway_event(event)
    return audited(event, resolve(app, event, context))
