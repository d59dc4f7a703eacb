"""Tag one (account, region): copy EC2 instance tags onto the DRS source servers replicating them."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.core.observability import execution_keys, logger, metrics, tracer
from fleet_sync.core.settings import get_settings
from fleet_sync.run.models import WorkItem, parse_event
from fleet_sync.run.worker import run_work_item
from fleet_sync.syncs.tags.work import work


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    result = run_work_item(parse_event(WorkItem, event, "work item"), get_settings(), work)
    return result.model_dump(exclude={"warnings", "notes"}, exclude_none=True)
