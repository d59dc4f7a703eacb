"""Under a real clock (`serve --speed N`) the schedules fire by themselves, nobody advancing the clock."""

import time

from test_scheduled_runs import FLEET, schedule_of

from sandbox import Sandbox


def test_serve_speed_fires_schedules_live():
    params = {
        "DrsRegions": "us-east-1",
        "StagingSyncRateMinutes": "2",
        **{f"{sync}Enabled": "false" for sync in ("InventorySync", "Discovery", "TagsSync", "RecoveryInstancesSync")},
    }
    with Sandbox(fleet=FLEET, parameters=params, clock="real", speed=120) as box:
        # 2 sandbox minutes are 1 s real: the staging schedule starts runs by itself, nobody advancing
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(box.scheduler.firings) < 2:
            time.sleep(0.2)
        firings = list(box.scheduler.firings)
        assert len(firings) >= 2 and all(f.execution_arn for f in firings)
        assert {f.schedule for f in firings} == {schedule_of(box, "staging")["Name"]}
        # one rate apart on the sandbox clock, each fired at its time or after it, never before
        assert round((firings[1].scheduled - firings[0].scheduled).total_seconds(), 3) == 120
        assert all(f.at >= f.scheduled for f in firings)
