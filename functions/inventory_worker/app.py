"""Scan one (account, region): DRS source servers, the region's template, EC2 details -> inventory rows."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.inventory_sync import inventory_work
from fleet_sync.models import WorkItem
from fleet_sync.observability import execution_keys, logger, metrics, tracer
from fleet_sync.settings import get_settings
from fleet_sync.worker import run_work_item


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    result = run_work_item(WorkItem.model_validate(event), get_settings(), inventory_work)
    return result.model_dump(exclude={"warnings"}, exclude_none=True)
