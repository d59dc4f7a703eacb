"""Data management: the only function that writes or starts work on behalf of callers.

- API Gateway (REST, AWS_IAM): the routes of fleet_sync.api.manage (start syncs, refresh stale inventory pairs,
  terminate recovery instances, manage the accounts table).
- Direct invocation: `{"operation": "sync_source_server_inventory", "input": {...}}` starts that sync
  (fleet_sync.api.operations); authorized by IAM alone (lambda:InvokeFunction on this function).
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.api.common import is_api_gateway_event, resolve
from fleet_sync.api.manage import app
from fleet_sync.api.operations import dispatch
from fleet_sync.core.observability import execution_keys, logger, metrics, tracer
from fleet_sync.core.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    if is_api_gateway_event(event):
        return resolve(app, event, context)
    logger.append_keys(**execution_keys(event))
    metrics.add_metric(name="DirectInvocations", unit="Count", value=1)
    return dispatch(event, get_settings())
