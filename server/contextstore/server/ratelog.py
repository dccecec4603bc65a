"""Log lines any client can trigger, at most one per interval.

A refused request is the caller's business, but an operator wants to know that
refusals happen. Logging each one hands every client a way to flood the log
(one probe wrote 3.1 MiB of tracebacks), so ``RateLimitedLog`` writes the
first at once, then at most one line per interval carrying how many happened
since the last line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

INTERVAL_SECONDS = 10.0


class RateLimitedLog:
    """``note()`` an occurrence; a warning goes out at most once per ``interval``."""

    def __init__(
        self,
        log: logging.Logger,
        event: str,
        *,
        interval: float = INTERVAL_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._event = event
        self._interval = interval
        self._timer = timer
        self._lock = threading.Lock()
        self._pending = 0
        self._next = float("-inf")

    def note(self, detail: str, count: int = 1) -> None:
        """Count ``count`` occurrences; log them all if the interval has passed.

        ``detail`` describes the latest (logfmt fields) and is logged with the count.
        """
        with self._lock:
            self._pending += count
            now = self._timer()
            if now < self._next:
                return
            pending, self._pending = self._pending, 0
            self._next = now + self._interval
        # Outside the lock: a slow log handler must not hold up other callers.
        self._log.warning("event=%s count=%d %s", self._event, pending, detail)
