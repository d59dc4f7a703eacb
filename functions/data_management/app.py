"""Data management: direct invocations `{"operation": ...}` only (fleet_sync.api.operations).

`{"operation": "sync_source_server_inventory", "input": {...}}` starts that sync; the status operation reads
the recovery-instance sync's status record. Authorized by IAM alone (lambda:InvokeFunction on this function).
This function serves no API route and its role can start the stack's syncs and read that one status record,
nothing else: an API Gateway event sent here is refused, whatever identity it claims.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.api.operations import dispatch
from fleet_sync.core.observability import execution_keys, logger, metrics, tracer
from fleet_sync.core.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    metrics.add_metric(name="DirectInvocations", unit="Count", value=1)
    return dispatch(event, get_settings())
