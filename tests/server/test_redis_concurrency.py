"""Many threads on two servers sharing one Redis Cluster: the result a sequential run allows.

Eight threads call two real servers over the shared 3-primary cluster (a key prefix of this
test's own), consecutive calls of a thread on alternate servers. Each thread has sessions of
its own, whose every answer is known exactly (``OwnSession``: read-your-writes across
servers, the stale-analysis rule, exact stats), and writes and reads a few namespaces every
thread shares (``SharedWriter``). Afterwards every namespace holds what some sequential
order of the acknowledged calls leaves, and the store-wide figures, summed over every
primary, agree with what the threads saw.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from server.redis_load import CALL_SECONDS, HeardErrors, owner, unique_prefix
from server.session_model import PATHS, TYPES, OwnSession, SharedWriter, label
from server.store.contract_threads import run_threads

from contextstore.client import ContextStoreClient
from contextstore.server.app import Server
from devtools.redis_nodes import RedisCluster

StartServer = Callable[..., Server]

THREADS = 8
STEPS = 300
OWN_SESSIONS = 2
# A session named "global" and the global namespace (None) are two namespaces.
SHARED: list[str | None] = ["shared-0", "shared-1", "global", None]


def test_threads_on_two_servers_leave_what_a_sequential_order_allows(
    start_server: StartServer, redis_cluster: RedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard = HeardErrors(monkeypatch)
    settings = {
        "backend": "redis", "redis_url": redis_cluster.url,
        "redis_key_prefix": unique_prefix("threads"),
    }  # fmt: skip
    servers = [start_server(**settings) for _ in range(2)]
    own = [[OwnSession(f"t{t}-{k}") for k in range(OWN_SESSIONS)] for t in range(THREADS)]
    shared = [SharedWriter(t, SHARED) for t in range(THREADS)]
    with (
        ContextStoreClient(servers[0].address, timeout=CALL_SECONDS) as a,
        ContextStoreClient(servers[1].address, timeout=CALL_SECONDS) as b,
    ):

        def work(t: int) -> None:
            rnd = random.Random(t)
            for i in range(STEPS):
                client = (a, b)[i % 2]
                if rnd.randrange(10) < 7:
                    rnd.choice(own[t]).step(client, rnd, i)
                else:
                    shared[t].step(client, rnd, i)

        run_threads(work, THREADS)
        assert heard.errors == []

        models = [m for mine in own for m in mine]
        for client in (a, b):  # the same through either server, exactly the model
            for model in models:
                model.check(client)
        found = sum(m.found for m in models) + sum(w.found for w in shared)
        missing = sum(m.missing for m in models) + sum(w.missing for w in shared)
        files = sum(len(m.files) for m in models)
        analyses = sum(len(m.analyses) for m in models)
        size = sum(m.expected_stats().bytes for m in models)
        sessions = sum(m.exists for m in models)

        for ns in SHARED:
            handle, name = b.session(ns), label(ns)
            stats = handle.stats()
            ns_files = ns_analyses = ns_bytes = 0
            for path in PATHS:
                for kind in [None, *TYPES]:
                    got = handle.get_file(path) if kind is None else handle.get_analysis(path, kind)
                    found, missing = found + (got is not None), missing + (got is None)
                    if got is None:
                        continue
                    payload = got.content if kind is None else got.result  # type: ignore[union-attr]
                    assert owner(payload)[:2] == [name, path]
                    # What is left is the last write of some thread there: nobody wrote
                    # after it, or it would be theirs, and no thread wrote it and then
                    # another acknowledged content.
                    assert payload in {w.last.get((ns, path, kind)) for w in shared}
                    ns_files += kind is None
                    ns_analyses += kind is not None
                    ns_bytes += len(payload) + len(path) + len(kind or "")
            assert (stats.files, stats.analyses, stats.bytes) == (ns_files, ns_analyses, ns_bytes)
            files, analyses, size = files + ns_files, analyses + ns_analyses, size + ns_bytes
            sessions += stats.sessions

        whole = a.store_stats()
    assert (whole.files, whole.analyses, whole.bytes, whole.sessions) == (
        files, analyses, size, sessions,
    )  # fmt: skip
    assert (whole.hits, whole.misses, whole.evictions) == (found, missing, 0)
