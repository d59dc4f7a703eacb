"""Which schedule expressions the sandbox's scheduler fires, and at what interval: the service's rate grammar."""

import pytest

from sandbox.schedules import ScheduleError, _window_seconds, rate_seconds


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(6 hours)", 21600),
        ("rate(2 days)", 172800),
    ],
)
def test_rate_expressions(expression, seconds):
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(2 minute)",
        "rate(0 minutes)",
        "rate(5 seconds)",
        "cron(0/5 * * * ? *)",
        "at(2026-01-01T00:00:00)",
        "rate(-5 minutes)",
    ],
)
def test_other_expressions_are_refused_by_name(expression):
    with pytest.raises(ScheduleError) as exc:
        rate_seconds(expression)
    assert str(exc.value).startswith(repr(expression))


def test_a_flexible_window_fires_inside_it_at_a_fixed_point():
    assert _window_seconds({"Mode": "OFF"}, "a") == 0
    offsets = {_window_seconds({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}, name) for name in ("a", "b", "c")}
    assert all(0 <= o <= 900 for o in offsets) and len(offsets) == 3
    assert _window_seconds({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}, "a") in offsets
