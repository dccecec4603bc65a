"""Client-triggered log lines: the first at once, then one per interval with a count."""

from __future__ import annotations

import logging

import pytest
from support import FakeClock

from contextstore.server.ratelog import RateLimitedLog


def test_one_line_per_interval_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(0.0)
    log = RateLimitedLog(logging.getLogger("t"), "refused", interval=10.0, timer=clock)
    log.note("n=1")
    for i in range(2, 6):
        clock.now = float(i)
        log.note(f"n={i}")
    clock.now = 10.0
    log.note("n=6", count=3)
    assert [r.getMessage() for r in caplog.records] == [
        "event=refused count=1 n=1",
        "event=refused count=7 n=6",
    ]
