"""Summarize the run: read every work item's result and build the sync's summary."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.core.observability import execution_keys, logger, metrics, tracer
from fleet_sync.core.settings import get_settings
from fleet_sync.run.models import RunEvent, parse_event
from fleet_sync.run.tasks import summarize_run


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    return summarize_run(parse_event(RunEvent, event, "summarize event"), get_settings()).dump()
