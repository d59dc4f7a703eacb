"""Test support shared by the test folders (imported as ``tests.sandbox_support``): set-ups on a running
sandbox that more than one folder needs."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fleet_sync.core.clock import iso
from fleet_sync.run import region_status

ROOT = Path(__file__).resolve().parents[1]


def start_serve(args: list[str], env: dict[str, str], log: Path, timeout: float = 180) -> tuple[Any, str, str]:
    """`sandbox serve ARGS` in a process of its own, once it serves: (the process, its URL, its banner). Its
    stderr goes to `log` (a pipe nobody reads could fill and stall it)."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox.cli", "sandbox", "serve", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not any("Ctrl-C" in line for line in lines):
        assert time.monotonic() < deadline and proc.poll() is None, (lines, log.read_text())
        lines.append(proc.stdout.readline())
    banner = "".join(lines)
    url = re.search(r"serving at (http://\S+)", banner)
    assert url, banner
    return proc, url.group(1), banner


def age_pair(sb: Any, account: str, region: str, hours: float = 2) -> str:
    """Make a pair's last successful scan `hours` old, as if no sync had reached it since; returns that time.
    This process's copy of the layer forgets its region-status cache (its TTL has passed too); the stack's
    functions keep theirs until the cache generation is bumped (`bump_region_cache`)."""
    old = iso(datetime.now(UTC) - timedelta(hours=hours))
    sb.client("dynamodb").update_item(
        TableName=sb.table_name("region-status"),
        Key={"accountId": {"S": account}, "region": {"S": region}},
        UpdateExpression="SET lastSuccess = :t",
        ExpressionAttributeValues={":t": {"S": old}},
    )
    region_status.invalidate_region_cache()
    return old


def bump_region_cache(sb: Any) -> None:
    """What InvalidateRegionCache does: every function's container re-reads region status on its next call."""
    sb.client("dynamodb").put_item(
        TableName=sb.table_name("sync-state"),
        Item={"pk": {"S": "cache#regions"}, "sk": {"S": "generation"}, "generation": {"S": uuid.uuid4().hex}},
    )


class HeldLatency:
    """The DRS simulator's clock (`sandbox.drs.clock.install` it), except that a latency sleep waits until
    `release()`: a latency fault then holds one DRS call for exactly as long as the test wants, whatever the
    sandbox clock does. `entered` is set once a call is held."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.entered = threading.Event()

    def now(self) -> Any:
        return self.inner.now()

    def monotonic(self) -> float:
        return float(self.inner.monotonic())

    def sleep(self, seconds: float) -> None:
        self.entered.set()
        self.gate.wait(120)

    def release(self) -> None:
        self.gate.set()
