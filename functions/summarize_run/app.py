"""Summarize the run: read every work item's result and build the sync's summary."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.observability import execution_keys, logger, metrics, tracer
from fleet_sync.orchestration import aggregate_run
from fleet_sync.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    return aggregate_run(event, get_settings())
