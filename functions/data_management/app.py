"""Data management: the only function that writes or starts work on behalf of callers.

Direct invocation: `{"operation": "sync_source_server_inventory", "input": {...}}` starts that sync.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.observability import logger, tracer
from fleet_sync.operations import dispatch
from fleet_sync.settings import get_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    return dispatch(event, get_settings())
