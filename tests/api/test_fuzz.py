"""Fuzzing the API from its OpenAPI document (schemathesis strategies driven by Hypothesis), end to end on the
sandbox: valid requests (positive) and requests that break the schema (negative), every route.

For every request: no 5xx (neither the function's nor API Gateway's 502). For every rejected request (4xx):
no table changed, no DRS write call, no execution started. Accepted requests may write (they start syncs,
add accounts, terminate instances): their executions are waited for before the next request, so a later
comparison never sees an earlier request's work. Bounded: a few examples per operation and mode,
derandomized (the same requests on every run).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from api_support import STAGING, TARGET, drs_writes, execution_count, open_sandbox, table_snapshot, wait_all
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
SCHEMA = schemathesis.openapi.from_path(str(DOCUMENT))
FLEET = {
    "seed": 5,
    "accounts": [
        {
            "accountId": TARGET,
            "kind": "target",
            "stagingAccounts": [STAGING],
            "regions": {"us-east-1": {"sourceServers": 3, "recoveryInstances": 1}},
        },
        {"accountId": STAGING, "kind": "staging", "regions": {"us-east-1": {"sourceServers": 1}}},
    ],
}
OPERATIONS = {op.ok().label: op.ok() for op in SCHEMA.get_all_operations()}
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 6}  # per operation and mode


@pytest.fixture(scope="module")
def sb():
    with open_sandbox(FLEET) as box:
        for sync in ("inventory", "recovery-instances"):
            box.run_sync(sync)
        yield box
        wait_all(box)


def request_of(case):
    body = None if type(case.body).__name__ == "NotSet" else case.body
    return case.method, case.formatted_path, dict(case.query or {}), body


def check(sb, case) -> int:
    method, path, query, body = request_of(case)
    before = (table_snapshot(sb), drs_writes(sb), execution_count(sb))
    status, payload = sb.api(method, path, query, body)
    where = f"{method} {path} query={query} body={json.dumps(body, default=str)[:300]} -> {status} {payload}"
    assert status < 500, where
    if 400 <= status < 500:
        assert isinstance(payload, dict) and ("error" in payload or "message" in payload), where
        after = (table_snapshot(sb), drs_writes(sb), execution_count(sb))
        assert after == before, f"a rejected request changed something: {where}"
    else:
        wait_all(sb)
    return status


def fuzz(sb, label: str, mode: GenerationMode, seen: set[int]) -> None:
    @given(case=OPERATIONS[label].as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        seen.add(check(sb, case))

    run()


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_fuzz_every_operation_from_the_openapi_document(sb, label):
    positive: set[int] = set()
    fuzz(sb, label, GenerationMode.POSITIVE, positive)
    assert positive, label
    method, path = label.split(" ", 1)
    operation = json.loads(DOCUMENT.read_text())["paths"][path][method.lower()]
    if operation.get("parameters") or operation.get("requestBody"):
        fuzz(sb, label, GenerationMode.NEGATIVE, set())
    else:  # little or nothing to negate
        with contextlib.suppress(Unsatisfiable):
            fuzz(sb, label, GenerationMode.NEGATIVE, set())
