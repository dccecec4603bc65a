"""Local Redis processes for tests, benchmarks and ``make cluster``: standalone or a Cluster.

Debian's ``redis-server`` (``make redis`` installs it). Every node runs in its own directory
under the given workdir, bound to 127.0.0.1 on a free port, without persistence unless
``appendonly=True``. Readiness is a PING answered by *our* process (its INFO ``process_id``),
polled against a deadline: a port taken between our pick and redis's bind is retried on another
port, and a redis of someone else's on that port is never mistaken for ours.

A Cluster has ``cluster-require-full-coverage no`` (a lost primary stops only its own slots)
and a short ``cluster-node-timeout``, so a killed primary is noticed within about a second.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis
import redis.cluster
from redis.backoff import NoBackoff
from redis.retry import Retry

from devtools import procs, resharding

SLOTS = 16384
NODE_TIMEOUT_MS = 1000
READY_SECONDS = 15.0
CLUSTER_OK_SECONDS = 30.0
START_ATTEMPTS = 10
POLL_SECONDS = 0.02  # between two readiness probes; every wait has a deadline


class RedisStartError(RuntimeError):
    """A redis-server did not come up (the message ends with its log's last lines)."""


class ClusterNotReady(RuntimeError):
    """The cluster did not reach ``cluster_state:ok`` with one agreed slot map in time."""


class _PortTaken(RedisStartError):
    pass


class RedisNode:
    """One ``redis-server`` process in ``directory`` on 127.0.0.1:``port``."""

    host = procs.LOOPBACK

    def __init__(
        self,
        directory: Path,
        port: int,
        *,
        cluster: bool = False,
        appendonly: bool = False,
        settings: Mapping[str, str] | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        self.directory = directory
        self.port = port
        self.cluster = cluster
        self.appendonly = appendonly
        # Extra redis.conf settings (maxmemory, ...) and a command prefix (taskset -c 0).
        self.settings = dict(settings or {})
        self.wrapper = list(wrapper)
        self._process: subprocess.Popen[Any] | None = None

    def __repr__(self) -> str:
        return f"RedisNode({self.url}, running={self.running})"

    @property
    def url(self) -> str:
        # A cluster has only database 0: the agreed form for a cluster node names none.
        return f"redis://{self.host}:{self.port}" + ("" if self.cluster else "/0")

    @property
    def log_path(self) -> Path:
        return self.directory / "redis.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"{self.url} was never started")
        return self._process.pid

    def client(self, **options: Any) -> redis.Redis:
        """A client of this node alone (``decode_responses=True`` unless overridden)."""
        options = {"decode_responses": True, "socket_timeout": 5.0, **options}
        return redis.Redis(host=self.host, port=self.port, **options)

    def start(self) -> None:
        """Start on this port and directory, and wait until it answers PING."""
        if self.running:
            raise RuntimeError(f"{self.url} is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [*self.wrapper, _redis_server(), *self._arguments()]
        self._process = procs.spawn(
            argv, cwd=self.directory, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise

    def _arguments(self) -> list[str]:
        settings = {
            "port": str(self.port),
            "bind": self.host,
            "dir": str(self.directory),
            "logfile": str(self.log_path),
            "daemonize": "no",
            "save": "",
            "appendonly": "yes" if self.appendonly else "no",
        }
        if self.cluster:
            settings |= {
                "cluster-enabled": "yes",
                "cluster-config-file": str(self.directory / "nodes.conf"),
                "cluster-node-timeout": str(NODE_TIMEOUT_MS),
                "cluster-require-full-coverage": "no",
            }
        settings |= self.settings
        return [arg for key, value in settings.items() for arg in (f"--{key}", value)]

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + READY_SECONDS
        no_retry = Retry(NoBackoff(), 0)
        with self.client(socket_timeout=1.0, socket_connect_timeout=1.0, retry=no_retry) as r:
            while (status := self._process.poll()) is None:
                if _answers_as(r, self._process.pid):
                    return
                if time.monotonic() > deadline:
                    raise RedisStartError(f"{self.url} not ready in {READY_SECONDS}s")
                time.sleep(POLL_SECONDS)
        log = procs.tail(self.log_path)
        error = _PortTaken if "Address already in use" in log else RedisStartError
        raise error(f"redis-server for {self.url} exited with status {status}:\n{log}")

    def stop(self) -> None:
        """SIGTERM and wait (it does not save: no ``save`` points); SIGKILL if it hangs."""
        if self._process is not None:
            procs.stop(self._process)

    def kill(self) -> None:
        """SIGKILL and wait: a crash, nothing written on the way out."""
        if self._process is not None:
            procs.kill(self._process)

    def restart(self) -> None:
        """Stop if running, then start again on the same port with the same directory.

        A cluster node rejoins with its slots from its nodes.conf; its data is gone unless
        ``appendonly``.
        """
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RedisStartError("redis-server is missing: run `make redis`")
    return found


def _answers_as(client: redis.Redis, pid: int) -> bool:
    """Whether the server behind ``client`` is up and is process ``pid``."""
    try:
        info = client.info("server")
    except redis.ConnectionError:  # not listening yet, or still loading its data
        return False
    return bool(info.get("process_id") == pid)


def start_node(directory: Path, **options: Any) -> RedisNode:
    """A fresh node in ``directory`` (emptied first) on a free port, retried if it is taken."""
    with_bus = bool(options.get("cluster"))
    for _ in range(START_ATTEMPTS):
        shutil.rmtree(directory, ignore_errors=True)
        node = RedisNode(directory, procs.free_port(with_bus=with_bus), **options)
        try:
            node.start()
        except _PortTaken:
            continue
        return node
    raise RedisStartError(f"no free port for redis-server after {START_ATTEMPTS} attempts")


def start_standalone(workdir: Path, **options: Any) -> RedisNode:
    """A standalone redis-server in ``workdir``/standalone; stop it (or use ``with``)."""
    return start_node(workdir / "standalone", **options)


def start_cluster(workdir: Path, primaries: int = 3, **options: Any) -> RedisCluster:
    """A Redis Cluster of ``primaries`` primaries and no replicas, slots spread evenly.

    Returns once every node reports ``cluster_state:ok`` and all agree on the slot map.
    """
    if primaries < 3:
        raise ValueError("a Redis Cluster needs at least 3 primaries (redis-cli --cluster)")
    nodes: list[RedisNode] = []
    try:
        for i in range(primaries):
            nodes.append(start_node(workdir / f"node-{i}", cluster=True, **options))
        _create(nodes)
        cluster = RedisCluster(nodes)
        cluster.wait_ok()
    except BaseException:
        for node in nodes:
            node.kill()
        raise
    return cluster


def _create(nodes: Sequence[RedisNode]) -> None:
    cli = shutil.which("redis-cli")
    if cli is None:
        raise RedisStartError("redis-cli is missing: run `make redis`")
    addresses = [f"{n.host}:{n.port}" for n in nodes]
    argv = [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-5:])
        raise RedisStartError(f"redis-cli --cluster create failed:\n{output}")


SlotMap = list[tuple[int, int, int]]
"""CLUSTER SLOTS as (first slot, last slot, port of the primary), sorted."""


class RedisCluster:
    """The primaries of a local Redis Cluster, in the order they were started."""

    def __init__(self, nodes: Sequence[RedisNode]) -> None:
        self.nodes = list(nodes)

    def __repr__(self) -> str:
        return f"RedisCluster({[n.url for n in self.nodes]})"

    @property
    def url(self) -> str:
        """The first node's URL: any node's works, the client discovers the others."""
        return self.nodes[0].url

    def client(self, **options: Any) -> redis.cluster.RedisCluster:
        """A cluster client starting from every running node (``decode_responses=True``)."""
        node = self._first_running()
        options = {"decode_responses": True, **options}
        return redis.cluster.RedisCluster(host=node.host, port=node.port, **options)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def kill(self, i: int) -> None:
        """SIGKILL primary ``i``: its slots become unavailable, the others keep serving."""
        self.nodes[i].kill()

    def restart(self, i: int) -> None:
        """Start primary ``i`` again with its slots; return once the cluster is ok again."""
        self.nodes[i].restart()
        self.wait_ok()

    def slot_map(self) -> SlotMap:
        """The slot map as the first running node sees it."""
        return _slot_map(self._first_running())

    def _first_running(self) -> RedisNode:
        node = next((n for n in self.nodes if n.running), None)
        if node is None:
            raise ClusterNotReady("no node is running")
        return node

    def node_for_slot(self, slot: int) -> RedisNode:
        """The primary serving ``slot``, as the first running node sees it."""
        return self._owner(self.slot_map(), slot)

    def _owner(self, slot_map: SlotMap, slot: int) -> RedisNode:
        by_port = {n.port: n for n in self.nodes}
        for first, last, port in slot_map:
            if first <= slot <= last:
                return by_port[port]
        raise LookupError(f"slot {slot} is served by no node")

    def move_slots(self, slots: Iterable[int], to_index: int) -> int:
        """Reshard ``slots`` live to primary ``to_index``; the number of keys moved.

        Clients keep working meanwhile (MOVED/ASK redirections); returns once every node
        agrees on the new slot map.
        """
        target = self.nodes[to_index]
        slot_map = self.slot_map()
        owners = [(slot, self._owner(slot_map, slot)) for slot in slots]
        raw = {n.port: n.client(decode_responses=False) for n in self.nodes}
        try:
            moved = 0
            for slot, source in owners:
                if source is target:
                    continue
                moved += resharding.move_slot(
                    slot, source=raw[source.port], target=raw[target.port],
                    target_address=(target.host, target.port),
                    others=[c for p, c in raw.items() if p not in (source.port, target.port)],
                )  # fmt: skip
        finally:
            for client in raw.values():
                client.close()
        self.wait_ok()
        return moved

    def wait_ok(self, timeout: float = CLUSTER_OK_SECONDS) -> None:
        """Wait until every node is up, ``cluster_state:ok``, all slots served, one slot map."""
        deadline = time.monotonic() + timeout
        while (problem := self._problem()) is not None:
            if time.monotonic() > deadline:
                raise ClusterNotReady(f"cluster not ok after {timeout}s: {problem}")
            time.sleep(POLL_SECONDS)

    def _problem(self) -> str | None:
        """What keeps the cluster from being ok now, or None."""
        maps: list[SlotMap] = []
        for i, node in enumerate(self.nodes):
            if not node.running:  # it will not come back by waiting
                raise ClusterNotReady(f"node {i} ({node.url}) is not running")
            try:
                with node.client() as r:
                    info: str = resharding.call(r, "CLUSTER", "INFO")
                maps.append(_slot_map(node))
            except redis.RedisError as error:
                return f"node {i}: {error}"
            fields = dict(line.split(":", 1) for line in info.split() if ":" in line)
            expected = {"cluster_state": "ok", "cluster_slots_ok": str(SLOTS)}
            expected["cluster_known_nodes"] = str(len(self.nodes))
            for key, want in expected.items():
                if fields.get(key) != want:
                    return f"node {i}: {key}:{fields.get(key)} (want {want})"
        if any(m != maps[0] for m in maps):
            return "the nodes disagree on the slot map"
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _slot_map(node: RedisNode) -> SlotMap:
    with node.client() as r:
        reply: list[list[Any]] = resharding.call(r, "CLUSTER", "SLOTS")
    return sorted((int(first), int(last), int(primary[1])) for first, last, primary, *_ in reply)
