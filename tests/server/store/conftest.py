"""Fixtures of the store tests: fake clocks, and stores of the ``backend`` under test.

A backend's test module provides ``backend`` (see ``contract.Backend``); the
contract's tests and the backend's own tests then get ``make`` and ``store``
from it, on clocks that move only when a test moves them.
"""

from __future__ import annotations

import pytest
from server.store.contract import TTL, Backend, MakeStore
from support import FakeClock, FakeWall

from contextstore.server.store.base import Budgets, Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(0.0)


@pytest.fixture
def wall() -> FakeWall:
    return FakeWall(1_000_000)


@pytest.fixture
def make(backend: Backend, clock: FakeClock, wall: FakeWall) -> MakeStore:
    """A store with these budgets (``session_ttl_seconds`` defaults to ``TTL``)."""

    def factory(**budgets: float) -> Store:
        b = Budgets(**{"session_ttl_seconds": TTL, **budgets})  # type: ignore[arg-type]
        return backend(b, timer=clock, wall_clock=wall)

    return factory


@pytest.fixture
def store(make: MakeStore) -> Store:
    return make()
