"""Invalidate the region cache: bump the generation stamp every container checks."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync import aws
from fleet_sync.observability import execution_keys, logger, metrics, tracer
from fleet_sync.regions import invalidate_region_cache
from fleet_sync.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    state_table = aws.dynamodb().Table(get_settings().sync_state_table)
    return {"generation": invalidate_region_cache(state_table)}
