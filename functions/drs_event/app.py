"""A DRS event from the hub's bus: mark its pair active and start its scoped syncs (debounced per pair)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.core.observability import logger, metrics, tracer
from fleet_sync.core.settings import get_settings
from fleet_sync.events.task import handle_event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    if isinstance(event, dict):
        logger.append_keys(accountId=event.get("account"), region=event.get("region"), eventId=event.get("id"))
    return handle_event(event, get_settings()).dump()
