"""Helpers several test modules share (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

import os
import random
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeAlias, TypeVar

import pytest

from contextstore.server.app import Server
from contextstore.server.errors import BackendUnavailable
from contextstore.server.store.base import FileMetadata, FileWrite, Namespace, Stats
from contextstore.server.store.memory import StripedStore
from contextstore.server.wire import WireFile

T = TypeVar("T", int, float)


class Fake(Generic[T]):
    """A clock that reads ``now`` and only moves when a test moves it.

    Injected where the code takes ``timer=`` (seconds) or ``wall_clock=`` (ns),
    so tests move time instead of sleeping.
    """

    def __init__(self, now: T) -> None:
        self.now: T = now

    def __call__(self) -> T:
        return self.now


FakeClock: TypeAlias = Fake[float]
FakeWall: TypeAlias = Fake[int]

HOLD_SECONDS = 60.0  # a held call gives up after this, so no test can hang on it


class FlakyStore(StripedStore):
    """The memory backend under another name (so metrics time it, as a remote one),
    behind a switch that makes it unreachable: ``down.set()``."""

    backend = "flaky"

    def __init__(self) -> None:
        super().__init__(stripes=2)
        self.down = threading.Event()

    def _reach(self) -> None:
        if self.down.is_set():
            raise BackendUnavailable(self.backend, "connection refused")

    def check(self) -> None:
        self._reach()

    def get_file_wire(self, ns: Namespace, path: str) -> WireFile | None:
        self._reach()
        return super().get_file_wire(ns, path)

    def cache_file(self, ns: Namespace, write: FileWrite) -> FileMetadata:
        self._reach()
        return super().cache_file(ns, write)

    def store_stats(self) -> Stats:
        self._reach()
        return super().store_stats()


class BlockingStore(StripedStore):
    """A store whose ``get_file`` holds its caller until ``release`` is set.

    ``entered`` is set once a call is held. With ``only``, just that path is held.
    """

    def __init__(self, *, only: str | None = None) -> None:
        super().__init__(stripes=4)
        self.only = only
        self.entered = threading.Event()
        self.release = threading.Event()

    def get_file_wire(self, ns: Namespace, path: str) -> WireFile | None:
        if self.only is None or path == self.only:
            self.entered.set()
            assert self.release.wait(HOLD_SECONDS), "never released"
        return super().get_file_wire(ns, path)


def console_script() -> str:
    """The installed ``contextstore`` command, preferring the running interpreter's."""
    beside = Path(sys.executable).parent / "contextstore"
    if beside.exists():
        return str(beside)
    found = shutil.which("contextstore")
    assert found, "the contextstore console script is not installed"
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without CONTEXTSTORE_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTSTORE_")}
    env.update(extra)
    return env


def on_port_50051(start_server: Callable[..., Server]) -> Server:
    """A server on port 50051 of a random loopback address (127.0.0.1:50051 may be taken)."""
    rng = random.Random()
    for _ in range(20):
        host = f"127.{rng.randrange(1, 255)}.{rng.randrange(255)}.{rng.randrange(1, 255)}"
        try:
            server: Server = start_server(listen=f"{host}:50051")
        except OSError:  # someone else holds that address's 50051: try another
            continue
        return server
    pytest.fail("no loopback address had port 50051 free")
