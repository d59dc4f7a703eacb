"""One sandbox with finished inventory runs (a fallback, then a filtered one with a failing pair), served over
HTTP with its console; a headless Chromium driven through Debian's chromedriver (make browser-tests)."""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.core import Sandbox

REGIONS = ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"]
FLEET: dict[str, Any] = {
    "seed": 3,
    "accounts": [
        {
            "accountId": "111111111111",
            "kind": "target",
            "regions": {"us-east-1": {"sourceServers": 5}, "eu-west-1": {"sourceServers": 2}},
            "uninitializedRegions": ["ap-south-1"],
        },
        {"accountId": "222222222222", "kind": "target", "regions": {"us-west-2": {"sourceServers": 3}}},
    ],
}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(fleet=copy.deepcopy(FLEET), parameters={"DrsRegions": ",".join(REGIONS)}) as box:
        yield box


@pytest.fixture(scope="module")
def runs(sb: Sandbox) -> dict[str, dict[str, Any]]:
    """The fallback run (every pair), then a filtered run in which one active pair is denied."""
    first = sb.run_sync("inventory")
    sb.set_faults([{"accountId": "222222222222", "region": "us-west-2", "accessDenied": True}])
    filtered = sb.run_sync("inventory")
    sb.set_faults([])
    assert first["decision"] == "fallback_empty" and filtered["decision"] == "filtered"
    return {"first": first, "filtered": filtered}


@pytest.fixture(scope="module")
def url(sb: Sandbox, runs: dict[str, dict[str, Any]]) -> str:
    return sb.serve()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = os.environ.get("CONSOLE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = os.environ.get("CONSOLE_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (Path(binary).exists() and Path(driver_path).exists()):
        pytest.fail("chromium and chromedriver are missing: run `make browser-tests`, which installs them")
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,1100",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
