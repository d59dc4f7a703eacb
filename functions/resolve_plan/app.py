"""Resolve the scan plan: validate the sync's input, take its lock, write the (account, region) plan to S3."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.observability import logger, tracer
from fleet_sync.orchestration import resolve_run
from fleet_sync.settings import get_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    return resolve_run(event, get_settings())
