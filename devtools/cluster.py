"""``make cluster``: a local 3-primary Redis Cluster and two contextstore servers over it.

    python -m devtools.cluster [--listen HOST:PORT]... [--contextstore CMD] [--workdir DIR]

Starts the cluster (``devtools.redis_nodes``), then ``contextstore serve --backend redis
--redis-url <first node>`` on each ``--listen`` address (127.0.0.1:50051 and :50052 by
default), says where everything listens and how to try it, and runs until Ctrl-C or SIGTERM,
then stops the servers, then the nodes, and exits 0. A port already taken, or a part that does
not start, is one line on stderr and exit 1, with nothing left running.
"""

from __future__ import annotations

import argparse
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from devtools import procs
from devtools.redis_nodes import ClusterNotReady, RedisCluster, RedisStartError, start_cluster

DEFAULT_LISTEN = ("127.0.0.1:50051", "127.0.0.1:50052")
START_SECONDS = 30.0  # longest a server may take to log event=started
STOP_SECONDS = 15.0  # a server drains for --grace-seconds (5 s by default) before it exits


class LaunchError(Exception):
    """Why the cluster could not start: printed as one line, exit status 1."""


def say(message: str) -> None:
    print(f"cluster: {message}", flush=True)


class ServerProcess:
    """A ``contextstore serve`` child whose stderr is echoed with its address as a prefix."""

    def __init__(self, command: Sequence[str], address: str, redis_url: str) -> None:
        self.address = address
        argv = [*command, "serve", "--listen", address, "--backend", "redis"]
        argv += ["--redis-url", redis_url]
        # SIGTERM if we die: a server drains and exits, as on any supervisor's stop.
        self.process = procs.spawn(
            argv, death_signal=signal.SIGTERM, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.last_line = ""
        self._started: queue.Queue[bool] = queue.Queue()
        self.ended = threading.Event()
        self._reader = threading.Thread(target=self._echo, daemon=True)
        self._reader.start()

    def _echo(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.last_line = line.strip() or self.last_line
            print(f"[{self.address}] {line}", end="", flush=True)
            if "event=started" in line:
                self._started.put(True)
        self._started.put(False)
        self.ended.set()

    def wait_started(self) -> None:
        try:
            started = self._started.get(timeout=START_SECONDS)
        except queue.Empty:
            raise LaunchError(f"the server for {self.address} did not start in time") from None
        if not started:
            status = self.process.wait()
            raise LaunchError(
                f"the server for {self.address} exited with status {status}: {self.last_line}"
            )

    def stop(self) -> None:
        procs.stop(self.process, timeout=STOP_SECONDS)
        self._reader.join(STOP_SECONDS)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    default_command = shlex.quote(_shown(Path(sys.executable).parent / "contextstore"))
    parser = argparse.ArgumentParser(
        prog="python -m devtools.cluster",
        description="A local 3-primary Redis Cluster and contextstore servers over it.",
    )
    parser.add_argument(
        "--listen", action="append", metavar="HOST:PORT",
        help=f"a server's address; repeat for more (default: {' and '.join(DEFAULT_LISTEN)})",
    )  # fmt: skip
    parser.add_argument(
        "--contextstore", default=default_command, metavar="CMD",
        help="the contextstore command, shell-quoted (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--workdir", type=Path, metavar="DIR",
        help="where the nodes keep their files (default: a temporary directory, removed)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.listen = args.listen or list(DEFAULT_LISTEN)
    return args


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when under it (.venv/bin/contextstore)."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def check_free(addresses: Sequence[str]) -> None:
    for address in addresses:
        host, _, port = address.rpartition(":")
        if not port.isdigit():
            raise LaunchError(f"--listen {address}: want HOST:PORT")
        if not procs.port_is_free(int(port), host):
            raise LaunchError(f"{address} is already in use: stop what listens there, or --listen")


def report_cluster(cluster: RedisCluster) -> None:
    ranges: dict[int, list[str]] = {}
    for first, last, port in cluster.slot_map():
        ranges.setdefault(port, []).append(f"{first}-{last}")
    for i, node in enumerate(cluster.nodes):
        slots = ",".join(ranges.get(node.port, [])) or "none"
        say(f"redis node {i} listens on {node.url} (pid {node.pid}, slots {slots})")


def hint(command: str, addresses: Sequence[str]) -> str:
    first, last = addresses[0], addresses[-1]
    put = f"echo hello | {command} --target {first} --session demo put hello.txt"
    return f"try: {put} && {command} --target {last} --session demo get hello.txt"


def run(args: argparse.Namespace, wake: threading.Event) -> int:
    check_free(args.listen)
    command = shlex.split(args.contextstore)
    with ExitStack() as stack:
        workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="contextstore-cluster-"))
        if args.workdir is None:
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        say(f"files in {workdir}" + ("" if args.workdir else " (removed on exit)"))
        cluster = stack.enter_context(start_cluster(workdir / "redis"))
        report_cluster(cluster)
        if wake.is_set():  # Ctrl-C while the cluster started: start no server
            say("stopping")
            return 0
        servers: list[ServerProcess] = []
        stack.callback(_stop_all, servers)  # servers before the nodes they use
        for address in args.listen:
            servers.append(ServerProcess(command, address, cluster.url))
            say(f"starting contextstore serve --listen {address} (pid {servers[-1].process.pid})")
        for server in servers:
            server.wait_started()
            say(f"contextstore server listens on {server.address} (pid {server.process.pid})")
            # A server that ends now must end the wait below too.
            threading.Thread(target=_relay, args=(server.ended, wake), daemon=True).start()
        say(hint(args.contextstore, args.listen))
        say("ready; Ctrl-C stops everything")
        while not wake.wait(1.0):
            pass
        for server in servers:
            if server.ended.is_set():
                raise LaunchError(f"the server for {server.address} exited: {server.last_line}")
        say("stopping")
    return 0


def _stop_all(servers: Sequence[ServerProcess]) -> None:
    for server in servers:
        server.stop()


def _relay(source: threading.Event, target: threading.Event) -> None:
    source.wait()
    target.set()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    wake = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        wake.set()

    # Before anything starts: a Ctrl-C during the start-up stops it at the next step.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        return run(args, wake)
    except (LaunchError, RedisStartError, ClusterNotReady) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"cluster: error: {message}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
