"""Update region status: write each scanned (account, region) outcome, keeping counts on failure."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.observability import execution_keys, logger, metrics, tracer
from fleet_sync.orchestration import record_region_status
from fleet_sync.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    return record_region_status(event, get_settings())
