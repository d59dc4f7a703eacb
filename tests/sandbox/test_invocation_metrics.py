"""Concurrent invocations keep their Powertools metrics apart, as containers that run one invocation each do:
in one process the metric, dimension and metadata sets are module state every function shares, and without
the sandbox's per-invocation state one invocation flushed another's metrics or failed to flush its own
(SchemaValidationError "Must contain at least one metric")."""

from __future__ import annotations

import json
import sys
import threading

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sandbox import Sandbox, lambda_logs

INVOCATIONS, ROUNDS = 16, 40


def test_concurrent_invocations_publish_only_their_own_metrics():
    with Sandbox(fleet=None):
        metrics = Metrics(namespace="Probe", service="probe")  # one module-level object, as in a handler
        logs = [lambda_logs.InvocationLog(function="probe", request_id=f"r{i}", stream="s") for i in range(INVOCATIONS)]
        errors: list[str] = []

        def invoke(i: int) -> None:
            with lambda_logs.bound(logs[i]):
                try:
                    for _ in range(ROUNDS):
                        metrics.add_dimension(name="invocation", value=str(i))
                        metrics.add_metric(name="Number", unit=MetricUnit.Count, value=i)
                        metrics.flush_metrics(raise_on_empty_metrics=True)
                except Exception as exc:  # what the handler would have raised
                    errors.append(repr(exc))

        threads = [threading.Thread(target=invoke, args=(i,)) for i in range(INVOCATIONS)]
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # threads switch often, as concurrent Lambdas interleave
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(interval)
    assert errors == []
    for i, log in enumerate(logs):
        records = [json.loads(line) for _, line in log.lines]
        assert len(records) == ROUNDS, i
        assert {
            (r["invocation"], tuple(r["Number"]) if isinstance(r["Number"], list) else (r["Number"],)) for r in records
        } == {(str(i), (i,))}, (i, records[:3])
