"""Update region status: write each scanned (account, region) outcome, keeping counts on failure."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.core.observability import execution_keys, logger, metrics, tracer
from fleet_sync.core.settings import get_settings
from fleet_sync.run.models import RunEvent, parse_event
from fleet_sync.run.tasks import update_region_status


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    return update_region_status(parse_event(RunEvent, event, "update-status event"), get_settings()).model_dump()
