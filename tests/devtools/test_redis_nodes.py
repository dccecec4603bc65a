"""devtools.redis_nodes, one node: real redis-server processes, their ports and their ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from devtools import procs
from devtools.procs import alive, still_running
from devtools.redis_nodes import RedisNode, start_standalone

REPO = Path(__file__).resolve().parents[2]


def test_standalone_serves_on_its_url_without_persistence(redis_standalone: RedisNode) -> None:
    node = redis_standalone
    assert node.url == f"redis://127.0.0.1:{node.port}/0"
    with redis.Redis.from_url(node.url, decode_responses=True) as r:
        r.set("devtools:standalone:k", "v")
        assert r.get("devtools:standalone:k") == "v"
        assert r.info("server")["process_id"] == node.pid
        assert r.config_get("save") == {"save": ""}
        assert r.config_get("appendonly") == {"appendonly": "no"}
        assert r.config_get("bind") == {"bind": "127.0.0.1"}
    assert node.directory.is_dir()


@pytest.mark.parametrize("appendonly", [False, True], ids=["memory-only", "appendonly"])
def test_restart_keeps_port_and_directory_and_data_only_with_appendonly(
    tmp_path: Path, appendonly: bool
) -> None:
    with start_standalone(tmp_path, appendonly=appendonly) as node:
        port, pid = node.port, node.pid
        with node.client() as r:
            r.set("k", "v")
        node.restart()
        assert (node.port, node.directory) == (port, tmp_path / "standalone")
        assert node.pid != pid and not alive(pid)
        with node.client() as r:
            assert r.get("k") == ("v" if appendonly else None)


def test_a_port_taken_before_redis_binds_it_is_retried_on_another(
    redis_standalone: RedisNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first port offered is already a redis's: the new node must neither give up nor take
    # that redis's PING for its own.
    offered = iter([redis_standalone.port, procs.free_port()])
    monkeypatch.setattr(procs, "free_port", lambda **_: next(offered))
    with start_standalone(tmp_path) as node:
        assert node.port != redis_standalone.port
        with node.client() as r:
            assert r.info("server")["process_id"] == node.pid
    assert redis_standalone.running


def test_stop_and_kill_end_the_process(tmp_path: Path) -> None:
    node = start_standalone(tmp_path)
    pid = node.pid
    node.kill()
    assert not node.running and not alive(pid)
    node.start()
    pid = node.pid
    node.stop()
    assert not node.running and not alive(pid)


# A parent that starts a node, prints its pid, then dies without stopping it. "exits": a normal
# exit, with setpriv hidden so only the atexit hook can end the node; "killed": SIGKILL, where
# no atexit runs and only the parent-death signal can.
PARENT = """
import os, shutil, signal, sys
from pathlib import Path
from devtools.redis_nodes import start_standalone
which = shutil.which
if sys.argv[2] == "exits":
    shutil.which = lambda name, *a, **k: None if name == "setpriv" else which(name, *a, **k)
node = start_standalone(Path(sys.argv[1]))
print(node.pid, flush=True)
if sys.argv[2] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def pids_to_reap() -> Iterator[list[int]]:
    pids: list[int] = []
    yield pids
    for pid in still_running(pids, timeout=0):  # the test failed: leave nothing behind
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", ["exits", "killed"])
def test_a_node_never_outlives_the_process_that_started_it(
    tmp_path: Path, how: str, pids_to_reap: list[int]
) -> None:
    parent = subprocess.run(
        [sys.executable, "-c", PARENT, str(tmp_path), how],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert parent.stdout.strip().isdigit(), parent.stderr
    pid = int(parent.stdout)
    pids_to_reap.append(pid)
    assert still_running([pid]) == []
