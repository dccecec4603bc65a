"""Faults on the Redis backend: Redis stopped or frozen, slots resharded, a primary killed.

Real servers (in-process, port 0) over real ``redis-server`` processes of each test's own
(``start_standalone``, ``redis_cluster_private``), called by typed clients. The load tests run
worker threads (``server.redis_load.Load``): each breaks something while the workers run,
waits for the effect on their calls with a deadline (never a fixed sleep), repairs it, and
waits for recovery; then it asserts on every call each phase made, and on what sessions hold.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2
from server.redis_load import (
    CALL_SECONDS,
    Failure,
    HeardErrors,
    Load,
    health_of,
    sessions_on,
    slot_of,
    unique_prefix,
    wait_health,
)
from server.session_model import OwnSession, Scribe

from contextstore.client import ContextStoreClient, ContextStoreError, Unavailable
from contextstore.server.app import Server
from contextstore.server.store.redis import RedisStore
from contextstore.server.store.redis.layout import Layout
from devtools import resharding
from devtools.redis_nodes import RedisCluster, start_standalone

StartServer = Callable[..., Server]

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

SENTINEL = ("kept.py", b"kept")  # written before the load, never touched by it
FILL_KEYS = 1000  # other keys in each moving slot: the move takes many MIGRATE batches


def redis_servers(
    start: StartServer, url: str, label: str, count: int, **more: object
) -> list[Server]:
    settings = {"backend": "redis", "redis_url": url, "redis_key_prefix": unique_prefix(label)}
    return [start(**settings, **more) for _ in range(count)]


@pytest.fixture
def clients_of() -> Iterator[list[ContextStoreClient]]:
    """Clients opened with ``open_clients``; closed after the test."""
    opened: list[ContextStoreClient] = []
    yield opened
    for client in opened:
        client.close()


def open_clients(servers: list[Server], opened: list[ContextStoreClient]) -> None:
    opened += [ContextStoreClient(s.address, timeout=CALL_SECONDS) for s in servers]


def assert_unavailable_naming_redis(failures: list[Failure]) -> None:
    """UNAVAILABLE naming the backend, before the deadline (not DEADLINE_EXCEEDED, not INTERNAL)."""
    wrong = [str(f) for f in failures if not isinstance(f.error, Unavailable)]
    assert wrong == []
    assert all("the redis backend is unavailable" in f.error.message for f in failures)
    assert max(f.seconds for f in failures) < CALL_SECONDS


def test_redis_stopped_and_restarted_under_load_fails_unavailable_then_recovers(
    start_server: StartServer,
    clients_of: list[ContextStoreClient],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="contextstore.server")
    node = start_standalone(tmp_path)
    try:
        [server] = redis_servers(start_server, node.url, "stop", 1)
        open_clients([server], clients_of)
        [client] = clients_of
        client.session("sentinel").cache_file(*SENTINEL)
        scribes = [Scribe(f"w{w}") for w in range(4)]
        everyone = range(len(scribes))
        with Load(len(scribes), lambda w, i: scribes[w].step(client, i)) as load:
            load.wait_each(everyone, passed=4)
            load.next_phase()
            node.stop()  # SIGTERM; no persistence: it comes back empty, without our functions
            load.wait_each(everyone, failed=2)
            wait_health(server.address, NOT_SERVING)
            node.start()  # the same port
            load.next_phase()
            load.wait_each(everyone, passed=6)
            # Not one call asked: the background check finds Redis back.
            wait_health(server.address, SERVING)
            failures = load.stop()
        assert client.session("sentinel").get_file(SENTINEL[0]) is None  # Redis restarted empty
    finally:
        node.stop()
    # A call may fail if it was under way at the stop (phase 0), never once Redis is back.
    assert [str(f) for f in failures if f.phase == 2] == []
    assert_unavailable_naming_redis(failures)
    assert "event=redis_functions_reloaded" in caplog.text


def test_a_frozen_redis_times_out_as_unavailable_within_the_deadline(
    start_server: StartServer, tmp_path: Path
) -> None:
    node = start_standalone(tmp_path)
    try:
        [server] = redis_servers(start_server, node.url, "frozen", 1, redis_timeout_seconds=0.5)
        with ContextStoreClient(server.address, timeout=CALL_SECONDS) as client:
            session = client.session("frozen")
            session.cache_file(*SENTINEL)
            failures: list[Failure] = []
            os.kill(node.pid, signal.SIGSTOP)  # it accepts connections, answers nothing
            try:
                calls = (lambda: session.cache_file("a.py", b"x"), session.stats)
                for call in (*calls, lambda: session.get_file(SENTINEL[0])):  # reads retried
                    started = time.monotonic()
                    with pytest.raises(ContextStoreError) as caught:
                        call()
                    failures.append(Failure(0, 1, caught.value, time.monotonic() - started))
                wait_health(server.address, NOT_SERVING)
            finally:
                os.kill(node.pid, signal.SIGCONT)
            wait_health(server.address, SERVING)
            got = session.get_file(SENTINEL[0])
            assert got is not None and got.content == SENTINEL[1]  # it paused, it lost nothing
    finally:
        node.stop()
    assert_unavailable_naming_redis(failures)


def fill(cluster: RedisCluster, prefix: str, sessions: list[str]) -> None:
    """``FILL_KEYS`` other keys beside each session's, in its slot, on its primary."""
    for session in sessions:
        data = Layout(prefix).namespace(session).data
        hashtag = data[data.index("{") : data.index("}") + 1]
        owner = cluster.node_for_slot(slot_of(prefix, session))
        with owner.client() as r:
            r.mset({f"fill:{hashtag}:{session}:{j}": "x" for j in range(FILL_KEYS)})


def redirections(cluster: RedisCluster) -> dict[str, int]:
    """Redirection errors every node has answered so far (INFO errorstats)."""
    counts = dict.fromkeys(("MOVED", "ASK", "TRYAGAIN"), 0)
    for node in cluster.nodes:
        with node.client() as r:
            stats = r.info("errorstats")
        for kind in counts:
            counts[kind] += int(stats.get(f"errorstat_{kind}", {}).get("count", 0))
    return counts


def test_a_live_resharding_of_active_sessions_reaches_no_caller(
    start_server: StartServer,
    clients_of: list[ContextStoreClient],
    redis_cluster_private: RedisCluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster, target = redis_cluster_private, 2
    heard = HeardErrors(monkeypatch)  # errors of reads the clients retried count too
    servers = redis_servers(start_server, cluster.url, "move", 2)
    prefix = servers[0].config.redis_key_prefix
    sessions = sessions_on(cluster, prefix, 0, 3) + sessions_on(cluster, prefix, 1, 3)
    slots = sorted({slot_of(prefix, s) for s in sessions})
    fill(cluster, prefix, sessions)
    open_clients(servers, clients_of)
    models = [OwnSession(s) for s in sessions]
    rnds = [random.Random(w) for w in range(len(models))]
    everyone = range(len(models))
    before = redirections(cluster)

    def step(worker: int, i: int) -> None:  # consecutive calls alternate servers
        models[worker].step(clients_of[i % 2], rnds[worker], i)

    with Load(len(models), step) as load:
        load.wait_each(everyone, passed=10)
        load.next_phase()
        moved = cluster.move_slots(slots, target)
        load.next_phase()
        load.wait_each(everyone, passed=10)
        failures = load.stop()
    seen = {k: v - before[k] for k, v in redirections(cluster).items()}

    assert [str(f) for f in failures] == [] and heard.errors == []
    assert moved >= FILL_KEYS * len(sessions)
    assert sum(load.passed(w, 1) for w in everyone) > 0  # calls ran while keys moved
    assert {cluster.node_for_slot(s).port for s in slots} == {cluster.nodes[target].port}
    assert seen["MOVED"] + seen["ASK"] > 0  # the servers were redirected, and absorbed it
    for client in clients_of:
        for model in models:
            model.check(client)


def begin_migrating(cluster: RedisCluster, slot: int, to: int) -> None:
    """Step 1 of a live resharding (``devtools.resharding``): the slot's keys stay put."""
    source, target = cluster.node_for_slot(slot), cluster.nodes[to]
    with source.client() as rs, target.client() as rt:
        resharding.call(rt, "CLUSTER", "SETSLOT", slot, "IMPORTING", resharding.node_id(rs))
        resharding.call(rs, "CLUSTER", "SETSLOT", slot, "MIGRATING", resharding.node_id(rt))


def test_replacing_a_namespaces_only_entry_while_its_slot_migrates_succeeds_whole(
    start_server: StartServer,
    clients_of: list[ContextStoreClient],
    redis_cluster_private: RedisCluster,
) -> None:
    # Replacing the only entry of a namespace empties its recency set for a moment; in a
    # MIGRATING slot Redis aborts a function that re-creates a key it deleted, half done.
    cluster = redis_cluster_private
    servers = redis_servers(start_server, cluster.url, "migrating", 2)
    prefix = servers[0].config.redis_key_prefix
    files, analyses = sessions_on(cluster, prefix, 0, 2)
    open_clients(servers, clients_of)
    a, b = (c.session(files) for c in clients_of)
    a.cache_file("a.py", b"one")
    ca, cb = (c.session(analyses) for c in clients_of)
    ca.cache_analysis("a.py", "ast", b"one")
    slots = sorted({slot_of(prefix, files), slot_of(prefix, analyses)})
    for slot in slots:
        begin_migrating(cluster, slot, 2)

    a.cache_file("a.py", b"two")
    ca.cache_analysis("a.py", "ast", b"two")
    cluster.move_slots(slots, 2)  # the rest of the resharding

    got = b.get_file("a.py")
    assert got is not None and got.content == b"two"
    analysis = cb.get_analysis("a.py", "ast")
    assert analysis is not None and analysis.result == b"two"
    assert (b.stats().files, cb.stats().analyses) == (1, 1)


def test_a_killed_primary_fails_its_slots_only_then_recovers(
    start_server: StartServer,
    clients_of: list[ContextStoreClient],
    redis_cluster_private: RedisCluster,
) -> None:
    cluster = redis_cluster_private
    servers = redis_servers(start_server, cluster.url, "kill", 2)
    prefix = servers[0].config.redis_key_prefix
    # The hardest primary to lose: the one each server's cluster client asks first.
    store = servers[0].store
    assert isinstance(store, RedisStore)
    first: int = store.client.get_default_node().port  # type: ignore[union-attr]
    victim = next(i for i, n in enumerate(cluster.nodes) if n.port == first)
    sessions = [s for i in range(len(cluster.nodes)) for s in sessions_on(cluster, prefix, i, 2)]
    on_victim = [w for w, s in enumerate(sessions) if s.startswith(f"n{victim}-")]
    elsewhere = [w for w in range(len(sessions)) if w not in on_victim]
    open_clients(servers, clients_of)
    for session in sessions:
        clients_of[0].session(session).cache_file(*SENTINEL)
    scribes = [Scribe(s) for s in sessions]

    def step(worker: int, i: int) -> None:
        scribes[worker].step(clients_of[i % 2], i)

    with Load(len(scribes), step) as load:
        load.wait_each(range(len(scribes)), passed=4)
        load.next_phase()
        cluster.kill(victim)
        load.wait_each(on_victim, failed=2)
        load.wait_each(elsewhere, passed=6)
        # Whole-store stats need every primary: UNAVAILABLE, and still only a partial failure.
        with pytest.raises(Unavailable, match="redis backend is unavailable"):
            clients_of[0].store_stats()
        for server in servers:  # a partial failure does not take the server down
            assert health_of(server.address) == SERVING
            assert server.backend_health.check()
            assert health_of(server.address) == SERVING
        cluster.restart(victim)
        load.next_phase()
        load.wait_each(range(len(scribes)), passed=6)
        failures = load.stop()

    assert [str(f) for f in failures if f.worker in elsewhere or f.phase == 2] == []
    assert_unavailable_naming_redis(failures)
    for w, session in enumerate(sessions):
        got = clients_of[1].session(session).get_file(SENTINEL[0])
        # The restarted primary came back empty: a miss there, never another content.
        assert (got.content if got else None) == (None if w in on_victim else SENTINEL[1])
