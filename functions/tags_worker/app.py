"""Tag one (account, region): copy EC2 instance tags onto the DRS source servers replicating them."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.models import WorkItem
from fleet_sync.observability import execution_keys, logger, metrics, tracer
from fleet_sync.settings import get_settings
from fleet_sync.tags import handle_drs_tag_sync


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    result = handle_drs_tag_sync(WorkItem.model_validate(event), get_settings())
    return result.model_dump(exclude={"warnings"}, exclude_none=True)
