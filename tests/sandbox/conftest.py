"""Fixtures for the DRS simulator and fleet tests: a moto session with the simulator, per-account clients
(through STS AssumeRole, as the product gets them) and an output-shape checker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from sandbox.drs import DrsEngine, ServerSpec, register_with_moto
from sandbox.drs.shapes import operation_model, validate

TARGET = "111111111111"
OTHER_TARGET = "222222222222"
STAGING = "333333333333"
REGION = "us-east-1"

ClientFactory = Callable[..., Any]


@pytest.fixture
def lean_moto_ec2(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto loads ~1,300 default AMIs into every EC2 account/region it creates or resets (~0.15 s each);
    the simulator and fleet tests never need them."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def sim(lean_moto_ec2: None) -> Iterator[DrsEngine]:
    """The process-wide simulator inside a fresh ``mock_aws()`` session (moto's reset resets it)."""
    engine = register_with_moto()
    with mock_aws():
        assert engine.counters_snapshot()["total"] == 0
        yield engine


def credentials_for(account: str, external_id: str | None = None, role: str = "sim-tests") -> dict[str, str]:
    """Temporary credentials for ``account`` from moto STS AssumeRole (the key encodes the account)."""
    kwargs: dict[str, Any] = {"RoleArn": f"arn:aws:iam::{account}:role/{role}", "RoleSessionName": "tests"}
    if external_id:
        kwargs["ExternalId"] = external_id
    creds = boto3.client("sts", region_name=REGION).assume_role(**kwargs)["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


@pytest.fixture
def credentials(sim: DrsEngine) -> Callable[..., dict[str, str]]:
    """``credentials(account, external_id=None)`` -> boto3 credential kwargs for that account."""
    return credentials_for


@pytest.fixture
def drs(sim: DrsEngine) -> ClientFactory:
    """``drs(account, region, **botocore_config)`` -> a DRS client acting as that account."""
    cache: dict[str, dict[str, str]] = {}

    def make(account: str = TARGET, region: str = REGION, **config: Any) -> Any:
        if account not in cache:
            cache[account] = credentials_for(account)
        cfg = Config(**config) if config else None
        return boto3.client("drs", region_name=region, config=cfg, **cache[account])

    return make


def _check(operation: str, response: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    shape = operation_model(operation).output_shape
    if shape is None:
        assert not body, f"{operation}: unexpected body {body}"
    else:
        issues = validate(body, shape)
        assert not issues, f"{operation}: {issues[:5]}"
    return response


@pytest.fixture
def check() -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """``check(operation, response)``: assert the response validates against botocore's output shape."""
    return _check


@pytest.fixture
def seed_servers(sim: DrsEngine) -> Callable[..., list[str]]:
    """``seed_servers(account, region, n)`` -> ids of ``n`` plain (on-premises) servers."""

    def make(account: str = TARGET, region: str = REGION, n: int = 5, **spec: Any) -> list[str]:
        start = len(sim.source_servers(account, region))
        return [
            sim.create_source_server(account, region, ServerSpec(hostname=f"host-{start + i:05d}", **spec))
            for i in range(n)
        ]

    return make
