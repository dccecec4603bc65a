"""What the interceptors of one call tell each other.

The observing interceptor (metrics, access log) is outermost and opens a
``CallInfo`` for each call; interceptors further in fill what they learn (auth:
the identity's name). grpcio's threaded server runs a call's interceptors and
handler on one thread, so a context variable carries it from one to the next.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class CallInfo:
    method: str
    identity: str = ""
    """The name of the identity the call was authenticated as; "" when none."""


CURRENT: ContextVar[CallInfo | None] = ContextVar("contextstore_call", default=None)


def current() -> CallInfo | None:
    """The running call's info, or ``None`` when no observing interceptor opened one."""
    return CURRENT.get()
