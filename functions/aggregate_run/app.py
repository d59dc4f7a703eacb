"""Summarize the run: read every work item's result and build the sync's summary."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.observability import logger, tracer
from fleet_sync.orchestration import aggregate_run
from fleet_sync.settings import get_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    return aggregate_run(event, get_settings())
