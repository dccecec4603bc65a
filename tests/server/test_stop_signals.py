"""``StopSignals``: how ``serve`` hears of SIGTERM and SIGINT without running code in a handler."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from contextstore.server.main import StopSignals


@pytest.fixture
def signals() -> Iterator[StopSignals]:
    waiting = StopSignals()
    try:
        yield waiting
    finally:
        waiting.close()


def test_a_signal_before_the_wait_is_not_lost(signals: StopSignals) -> None:
    signal.raise_signal(signal.SIGTERM)
    assert signals.wait() is signal.SIGTERM


def test_a_signal_sent_from_another_thread_wakes_the_wait(signals: StopSignals) -> None:
    sender = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGTERM))
    sender.start()
    assert signals.wait() is signal.SIGTERM
    sender.join()


def test_the_python_handler_runs_no_code_that_could_block(signals: StopSignals) -> None:
    # What it replaced, an Event.set, deadlocked when the signal interrupted the main
    # thread inside that Event's wait: the handler only keeps the default action away.
    for signum in StopSignals.SIGNALS:
        handler = signal.getsignal(signum)
        # It names nothing (no global, no attribute), so it can call nothing.
        assert callable(handler) and handler.__code__.co_names == ()


def test_close_puts_back_the_handlers_and_the_wakeup_fd() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    fd_before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd_before)
    waiting = StopSignals()
    assert signal.getsignal(signal.SIGINT) is not before[0]
    waiting.close()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    fd_after = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd_after)
    assert fd_after == fd_before
