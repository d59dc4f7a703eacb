"""Update region status: write each scanned (account, region) outcome, keeping counts on failure."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.observability import logger, tracer
from fleet_sync.orchestration import record_region_status
from fleet_sync.settings import get_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    return record_region_status(event, get_settings())
