"""The watchdog cancels exactly the calls whose request is overdue, on a fake clock."""

from __future__ import annotations

import gc
import weakref

from support import FakeClock

from contextstore.server.watchdog import Watchdog


def test_cancels_overdue_calls_only() -> None:
    clock = FakeClock(100.0)
    dog = Watchdog(5.0, timer=clock)
    cancelled: list[str] = []
    early = dog.watch(lambda: cancelled.append("early"))
    clock.now = 102.0
    arrived = dog.watch(lambda: cancelled.append("arrived"))
    late = dog.watch(lambda: cancelled.append("late"))
    arrived.arrived()
    clock.now = 104.9
    assert dog.cancel_overdue() == 0
    clock.now = 105.0  # early's deadline
    assert dog.cancel_overdue() == 1
    assert cancelled == ["early"]
    clock.now = 107.0
    assert dog.cancel_overdue() == 1
    assert cancelled == ["early", "late"]
    assert not early.waiting and not late.waiting
    assert dog.cancelled == 2


def test_a_call_whose_request_arrived_is_never_cancelled() -> None:
    clock = FakeClock(0.0)
    dog = Watchdog(1.0, timer=clock)
    cancelled: list[str] = []
    for _ in range(3):
        dog.watch(lambda: cancelled.append("cancelled")).arrived()
    clock.now = 10.0
    assert dog.cancel_overdue() == 0
    assert cancelled == []


def test_a_watch_lets_go_of_its_call_once_the_request_arrived() -> None:
    class Call:
        def cancel(self) -> None:
            raise AssertionError("an arrived call must not be cancelled")

    dog = Watchdog(1.0, timer=FakeClock(0.0))
    call = Call()
    alive = weakref.ref(call)
    dog.watch(call.cancel).arrived()
    del call
    gc.collect()
    assert alive() is None  # the deque, still holding the entry, keeps nothing alive
