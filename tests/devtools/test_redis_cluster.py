"""devtools.redis_nodes, a 3-primary Redis Cluster: slots, redirections, faults.

Reads use the shared ``redis_cluster``; resharding and killing use a private cluster each.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
import redis.cluster
from redis.crc import key_slot

from devtools import resharding
from devtools.procs import alive
from devtools.redis_nodes import SLOTS, RedisCluster

WAIT = 30.0


def key_served_by(cluster: RedisCluster, index: int, prefix: str) -> str:
    """A key (``prefix`` and a number) whose slot primary ``index`` serves."""
    node = cluster.nodes[index]
    for n in itertools.count():
        key = f"{prefix}:{n}"
        if cluster.node_for_slot(key_slot(key.encode())) is node:
            return key
    raise AssertionError("unreachable")


def test_three_primaries_cover_every_slot_and_agree(redis_cluster: RedisCluster) -> None:
    ports = {node.port for node in redis_cluster.nodes}
    assert len(ports) == 3 and redis_cluster.url == redis_cluster.nodes[0].url
    slot_map = redis_cluster.slot_map()
    covered = sorted(slot for first, last, _ in slot_map for slot in range(first, last + 1))
    assert covered == list(range(SLOTS))
    assert {port for _, _, port in slot_map} == ports  # each primary serves some slots
    seen: list[list[Any]] = []
    for node in redis_cluster.nodes:
        assert node.url == f"redis://127.0.0.1:{node.port}"
        with node.client() as r:
            info = r.cluster("INFO")
            assert info["cluster_state"] == "ok" and info["cluster_known_nodes"] == "3"
            assert r.config_get("cluster-require-full-coverage") == {
                "cluster-require-full-coverage": "no"
            }
            seen.append(sorted(r.cluster("SLOTS")))
    assert all(view == seen[0] for view in seen)  # one slot map, whomever you ask


def test_keys_written_through_a_cluster_client_are_read_back_from_their_primary(
    redis_cluster: RedisCluster,
) -> None:
    keys = [f"devtools:readback:{n}" for n in range(30)]  # spread over all three primaries
    with redis.cluster.RedisCluster.from_url(redis_cluster.url, decode_responses=True) as c:
        for key in keys:
            c.set(key, f"value of {key}")
        assert [c.get(key) for key in keys] == [f"value of {key}" for key in keys]
    owners = {redis_cluster.node_for_slot(key_slot(k.encode())).port for k in keys}
    assert len(owners) == 3
    for key in keys:  # where the slot map says, and nowhere else
        slot = key_slot(key.encode())
        for node in redis_cluster.nodes:
            with node.client() as r:
                if node is redis_cluster.node_for_slot(slot):
                    assert r.get(key) == f"value of {key}"
                else:
                    assert r.cluster("COUNTKEYSINSLOT", slot) == 0


class Writer(threading.Thread):
    """Writes keys of one slot round and round through a cluster client, counting writes."""

    def __init__(self, client: redis.cluster.RedisCluster, keys: list[str]) -> None:
        super().__init__(daemon=True)
        self.client, self.keys = client, keys
        self.last: dict[str, str] = {}
        self.errors: list[BaseException] = []
        self.writes = 0
        self.progress = threading.Condition()
        self.stopping = threading.Event()

    def run(self) -> None:
        for n in itertools.count():
            if self.stopping.is_set():
                return
            key = self.keys[n % len(self.keys)]
            try:
                self.client.set(key, f"w{n}")
            except redis.RedisError as error:
                self.errors.append(error)
                continue
            self.last[key] = f"w{n}"
            with self.progress:
                self.writes += 1
                self.progress.notify_all()

    def wait_for(self, writes: int) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: self.writes >= writes, WAIT), self.errors


@contextmanager
def writing(cluster: RedisCluster, keys: list[str]) -> Iterator[Writer]:
    with cluster.client() as client:
        writer = Writer(client, keys)
        writer.start()
        try:
            yield writer
        finally:
            writer.stopping.set()
            writer.join(WAIT)
    assert not writer.is_alive()


def test_move_slots_moves_a_slots_keys_while_a_client_keeps_writing_them(
    redis_cluster_private: RedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = redis_cluster_private
    held = [f"{{moving}}:held:{n}" for n in range(3 * resharding.BATCH_KEYS // 2)]
    fresh = [f"{{moving}}:fresh:{n}" for n in range(50)]  # keys only the writer creates
    slot = key_slot(b"moving")
    source = cluster.node_for_slot(slot)
    to_index = (cluster.nodes.index(source) + 1) % 3
    target = cluster.nodes[to_index]
    with cluster.client() as c:
        for key in held:
            c.set(key, "before")

    with writing(cluster, held + fresh) as writer:
        writer.wait_for(len(held))
        # Pause after the first MIGRATE batch: some keys on the target, some still on the
        # source, until the writer has gone once more round every key (ASK and no ASK).
        real_call = resharding.call
        batches: list[int] = []

        def call_pausing(client: redis.Redis, *args: str | bytes | int) -> Any:
            reply = real_call(client, *args)
            if args[0] == "MIGRATE":
                batches.append(len(args) - 7)
                if len(batches) == 1:
                    writer.wait_for(writer.writes + len(held) + len(fresh))
            return reply

        monkeypatch.setattr(resharding, "call", call_pausing)
        moved = cluster.move_slots([slot], to_index)
        writer.wait_for(writer.writes + len(held))  # and it goes on after the move
    assert writer.errors == []
    assert len(batches) >= 2 and moved == sum(batches)

    assert cluster.node_for_slot(slot) is target
    with source.client() as r:
        assert r.cluster("COUNTKEYSINSLOT", slot) == 0
    with target.client() as r:
        assert r.cluster("COUNTKEYSINSLOT", slot) == len(held) + len(fresh)
        assert {k: r.get(k) for k in writer.last} == writer.last  # no write lost
        assert int(r.info("commandstats")["cmdstat_asking"]["calls"]) > 0  # ASK was seen


def test_a_killed_primary_fails_only_its_slots_until_restarted(
    redis_cluster_private: RedisCluster,
) -> None:
    cluster = redis_cluster_private
    keys = [key_served_by(cluster, i, "devtools:kill") for i in range(3)]
    with cluster.client() as c:
        for key in keys:
            c.set(key, "before")
        killed_pid = cluster.nodes[1].pid
        cluster.kill(1)
        assert not alive(killed_pid)
        with pytest.raises(redis.ConnectionError):
            c.get(keys[1])
        for key in (keys[0], keys[2]):
            assert c.get(key) == "before"
            c.set(key, "during")
            assert c.get(key) == "during"

        cluster.restart(1)
        assert c.get(keys[1]) is None  # no replica and no appendonly: its data went with it
        c.set(keys[1], "after")
        assert c.get(keys[1]) == "after"
    assert cluster.node_for_slot(key_slot(keys[1].encode())) is cluster.nodes[1]

    pids = [node.pid for node in cluster.nodes]
    cluster.stop()
    assert [pid for pid in pids if alive(pid)] == []
