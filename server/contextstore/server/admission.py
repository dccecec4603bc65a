"""What the server has taken on: calls admitted, and bytes of responses not yet sent.

Both are counted from the moment they are taken on until the call ends (its
response sent, or the call cancelled), under one lock, so that a call ending
while its response is being counted can never leave bytes counted forever.
"""

from __future__ import annotations

import threading

import grpc


class Call:
    """One admitted call; ``end()`` runs once, when the call is over."""

    __slots__ = ("_admission", "ended", "size")

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self.size = 0  # bytes of its response counted as unsent
        self.ended = False

    def end(self) -> None:
        self._admission.end(self)


class Admission:
    """At most ``max_calls`` calls at once, and ``max_bytes`` of unsent responses.

    One response always fits when none is pending, so a byte limit below the
    largest message still lets every response through, one at a time.
    """

    def __init__(self, max_calls: int, max_bytes: int) -> None:
        self.max_calls = max_calls
        self.max_bytes = max_bytes
        self.calls = 0
        self.unsent = 0
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """Take on one more call, unless ``max_calls`` are in progress."""
        with self._lock:
            if self.calls >= self.max_calls:
                return False
            self.calls += 1
            return True

    def begin(self, context: grpc.ServicerContext) -> Call:
        """The admitted call ``context`` belongs to, ended when the call ends."""
        call = Call(self)
        if not context.add_callback(call.end):  # already over
            call.end()
        return call

    def reserve(self, call: Call, size: int) -> bool:
        """Count ``call``'s ``size``-byte response as unsent; False if it does not fit."""
        with self._lock:
            if call.ended:  # nothing will be sent: nothing to count
                return True
            if self.unsent and self.unsent + size > self.max_bytes:
                return False
            self.unsent += size
            call.size = size
            return True

    def end(self, call: Call) -> None:
        with self._lock:
            if call.ended:
                return
            call.ended = True
            self.calls -= 1
            self.unsent -= call.size
