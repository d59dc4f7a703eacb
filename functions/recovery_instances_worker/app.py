"""Sync one (account, region) into the recovery-instance cache: DRS recovery instances, their source servers,
EC2 details and source executions, all batched; or, in a scoped wave-completion run, just the named servers."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.models import WorkItem
from fleet_sync.observability import execution_keys, logger, metrics, tracer
from fleet_sync.recovery_instances import recovery_instance_work
from fleet_sync.settings import get_settings
from fleet_sync.worker import run_work_item


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(**execution_keys(event))
    result = run_work_item(WorkItem.model_validate(event), get_settings(), recovery_instance_work)
    return result.model_dump(exclude={"warnings"}, exclude_none=True)
