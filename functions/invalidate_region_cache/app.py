"""Invalidate the region cache: bump the generation stamp every container checks."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync import aws
from fleet_sync.observability import logger, tracer
from fleet_sync.regions import invalidate_region_cache
from fleet_sync.settings import get_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    state_table = aws.dynamodb().Table(get_settings().sync_state_table)
    return {"generation": invalidate_region_cache(state_table)}
