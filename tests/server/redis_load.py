"""Client threads against servers on the Redis backend, for the fault and concurrency tests.

``Load`` runs worker threads that call a step function over and over, each call's outcome
recorded with the *phase* it started in (the test moves to the next phase when it breaks or
repairs something), so a test can wait, against a deadline and never by sleeping, for "every
worker has failed twice since the kill" and assert on exactly the calls of each phase.

``OwnSession`` is a session only one thread touches: the exact model of what each call must
return (read-your-writes across servers, the stale-analysis rule, exact stats). Every content
names its session, path and writer (``tag``), so a read of another session's bytes is caught.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from redis.crc import key_slot

from contextstore.client import ContextStoreError
from contextstore.server import errors
from contextstore.server.health import BackendHealth
from contextstore.server.store.redis.layout import Layout
from devtools.redis_nodes import RedisCluster

CALL_SECONDS = 5.0
"""Every client call's deadline: a call that hangs fails DEADLINE_EXCEEDED, not UNAVAILABLE."""
WAIT_SECONDS = 30.0
"""Longest wait for the load to reach a state; the background health check is every 5 s."""

_prefixes = itertools.count()


def unique_prefix(label: str) -> str:
    """A key prefix no other test (or test process) uses on a shared Redis."""
    return f"{label}{os.getpid()}-{next(_prefixes)}:"


def tag(*parts: object) -> bytes:
    """Content that names whose it is: session, path, writer, sequence number..."""
    return "|".join(map(str, parts)).encode()


def owner(payload: bytes) -> list[str]:
    return payload.decode().split("|")


# -- where sessions live ---------------------------------------------------------


def slot_of(prefix: str, session: str) -> int:
    """The Redis Cluster slot of every key of ``session`` under ``prefix``."""
    return int(key_slot(Layout(prefix).namespace(session).data.encode()))


def sessions_on(cluster: RedisCluster, prefix: str, node: int, count: int) -> list[str]:
    """``count`` session ids whose slot is served by primary ``node`` now."""
    found: list[str] = []
    for n in itertools.count():
        session = f"n{node}-s{n}"
        if cluster.node_for_slot(slot_of(prefix, session)) is cluster.nodes[node]:
            found.append(session)
            if len(found) == count:
                return found
    raise AssertionError("unreachable")


# -- what servers hear, what health says -------------------------------------------


class HeardErrors:
    """Every error but a miss any server answered, including those of reads the client retried.

    Installed before the servers start: each server binds ``BackendHealth.on_error``, which
    hears of every ``ContextStoreError`` a call ends with.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._lock = threading.Lock()
        self._errors: list[errors.ContextStoreError] = []
        original = BackendHealth.on_error

        def on_error(health: BackendHealth, error: errors.ContextStoreError) -> None:
            if not isinstance(error, errors.NotFound):  # a miss is an answer, not an error
                with self._lock:
                    self._errors.append(error)
            original(health, error)

        monkeypatch.setattr(BackendHealth, "on_error", on_error)

    @property
    def errors(self) -> list[str]:
        with self._lock:
            return [f"{type(e).__name__}: {e}" for e in self._errors]


def wait_health(address: str, want: int, timeout: float = WAIT_SECONDS) -> None:
    """Wait until the server's health service reports ``want`` (Watch, with a deadline)."""
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(want)
    with grpc.insecure_channel(address) as channel:
        stream = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(), timeout=timeout
        )
        try:
            for reply in stream:
                if reply.status == want:
                    return
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
    raise AssertionError(f"{address} did not report {name} within {timeout}s")


def health_of(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=CALL_SECONDS
        )
    return int(reply.status)


# -- the load -----------------------------------------------------------------------

Step = Callable[[int, int], None]
"""``step(worker, i)``: one call; a failed call raises the client's ``ContextStoreError``,
a wrong answer ``AssertionError`` (which stops the whole load and fails the test)."""


@dataclass(frozen=True, slots=True)
class Failure:
    worker: int
    phase: int
    error: ContextStoreError
    seconds: float

    def __str__(self) -> str:
        return f"worker {self.worker}, phase {self.phase}, {self.seconds:.2f}s: {self.error}"


class Load:
    """``workers`` threads calling ``step`` until ``stop``; use it as a context manager."""

    def __init__(self, workers: int, step: Step) -> None:
        self.workers = workers
        self._step = step
        self._cond = threading.Condition()
        self._phase = 0
        self._ok: Counter[tuple[int, int]] = Counter()  # (worker, phase) -> calls that passed
        self._failures: list[Failure] = []
        self._fatal: BaseException | None = None
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(w,), name=f"load-{w}", daemon=True)
            for w in range(workers)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=WAIT_SECONDS)

    def _run(self, worker: int) -> None:
        for i in itertools.count():
            if self._stopping.is_set():
                return
            phase, started = self._phase, time.monotonic()
            try:
                self._step(worker, i)
            except ContextStoreError as error:
                failure = Failure(worker, phase, error, time.monotonic() - started)
                with self._cond:
                    self._failures.append(failure)
                    self._cond.notify_all()
            except BaseException as error:  # a wrong answer: the test fails with it
                with self._cond:
                    self._fatal = error
                    self._cond.notify_all()
                self._stopping.set()
                return
            else:
                with self._cond:
                    self._ok[worker, phase] += 1
                    self._cond.notify_all()

    def next_phase(self) -> int:
        """Calls started from now on count in a new phase; returns its number."""
        with self._cond:
            self._phase += 1
            return self._phase

    def passed(self, worker: int, phase: int) -> int:
        return self._ok[worker, phase]

    def failed(self, worker: int, phase: int) -> int:
        return sum(f.worker == worker and f.phase == phase for f in self._failures)

    def wait(self, what: str, done: Callable[[], bool]) -> None:
        """Wait until ``done()`` (called with the counts locked), or fail saying ``what``."""
        with self._cond:
            reached = self._cond.wait_for(lambda: self._fatal is not None or done(), WAIT_SECONDS)
            if self._fatal is not None:
                raise self._fatal
            if not reached:
                raise AssertionError(f"not within {WAIT_SECONDS}s: {what}; {self.summary()}")

    def wait_each(self, workers: Sequence[int], *, passed: int = 0, failed: int = 0) -> None:
        """Wait until each of ``workers`` has that many passed and failed calls this phase."""
        phase = self._phase
        self.wait(
            f"workers {list(workers)} each {passed} passed, {failed} failed in phase {phase}",
            lambda: all(
                self.passed(w, phase) >= passed and self.failed(w, phase) >= failed for w in workers
            ),
        )

    def stop(self) -> list[Failure]:
        """Stop every worker; every failed call, or the wrong answer a worker saw."""
        self.__exit__()
        if any(t.is_alive() for t in self._threads):
            raise AssertionError(f"a worker still runs {WAIT_SECONDS}s after stop")
        if self._fatal is not None:
            raise self._fatal
        return list(self._failures)

    def summary(self) -> str:
        ok = dict(sorted(self._ok.items()))
        first = f", the first: {self._failures[0]}" if self._failures else ""
        return f"passed per (worker, phase) {ok}, {len(self._failures)} failed{first}"
