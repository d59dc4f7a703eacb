"""The one Logger, Metrics and Tracer every handler and layer module uses.

Every handler is decorated the same way:

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    @tracer.capture_lambda_handler(capture_response=False)
    def handler(event, context):
        logger.append_keys(**execution_keys(event))
"""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()

# Most invocations of the shared tasks publish only their cold start, or nothing: that is expected here, so
# Powertools' warning about an empty metric set would only be noise in every container's log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

_KEYS = ("sync", "operation", "executionArn", "runId", "accountId", "region")


def execution_keys(event: Any) -> dict[str, str]:
    """What every log line of one invocation carries: the sync (or operation), its execution (ARN and run id)
    and, for a work item, the account and region. Read from the task's event or the `run` it carries."""
    if not isinstance(event, dict):
        return {}
    run = event.get("run")
    found = {**(run if isinstance(run, dict) else {}), **event}
    found.setdefault("runId", found.get("executionName"))
    return {k: found[k] for k in _KEYS if isinstance(found.get(k), str) and found[k]}
