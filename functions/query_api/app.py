"""Query API: the read-only routes of the REST API (API Gateway, AWS_IAM authorization).

Reads our tables and describes the stack's executions; writes nothing (its role allows no write).
Routes: fleet_sync.api.query; unknown paths reach this function too (the API's /{proxy+}) and get a 404.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from fleet_sync.api.common import resolve
from fleet_sync.api.query import app
from fleet_sync.core.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context)
