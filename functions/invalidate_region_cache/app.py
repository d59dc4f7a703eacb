"""Invalidate the region cache: bump the generation stamp every container checks."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.core.observability import execution_keys, logger, metrics, tracer
from fleet_sync.core.settings import get_settings
from fleet_sync.run.models import InvalidateEvent, parse_event
from fleet_sync.run.tasks import invalidate


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    return invalidate(parse_event(InvalidateEvent, event, "invalidate event"), get_settings()).model_dump()
