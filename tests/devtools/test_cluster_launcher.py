"""``python -m devtools.cluster`` (``make cluster``) as a real process: start, logs, stop.

``contextstore serve --backend redis`` does not exist on this branch yet, so the servers are
``standin_serve.py``: it checks the Redis URL it is given, then runs the real server on the
memory backend at the address it is given. Ports are free ones, never 50051: that one may be
anyone's on a shared machine.
"""

from __future__ import annotations

import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from contextstore.client import ContextStoreClient
from devtools import procs
from devtools.procs import still_running

REPO = Path(__file__).resolve().parents[2]
STANDIN = [sys.executable, str(Path(__file__).with_name("standin_serve.py"))]
WAIT = 60.0


class Launcher:
    """The launcher as a subprocess, its stdout read line by line on a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.cluster", *args],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, needle: str) -> None:
        deadline = time.monotonic() + WAIT
        while True:
            line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, f"exited before {needle!r}: {self.lines} {self.stderr()}"
            self.lines.append(line)
            if needle in line:
                return

    def finish(self) -> tuple[int, str]:
        """The exit status and stderr; stdout's remaining lines join ``lines``."""
        status = self.proc.wait(WAIT)
        while (line := self._queue.get(timeout=WAIT)) is not None:
            self.lines.append(line)
        return status, self.stderr()

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read() if self.proc.poll() is not None else ""

    def pids(self, what: str) -> list[int]:
        return [int(m[1]) for line in self.lines if (m := re.search(rf"{what}.*pid (\d+)", line))]

    def logged(self, pattern: str) -> list[str]:
        return [m[1] for line in self.lines if (m := re.search(pattern, line))]

    def kill(self) -> None:
        # SIGKILL: what it started dies with it (parent-death signal), as a test failure needs.
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
        for stream in (self.proc.stdout, self.proc.stderr):
            assert stream is not None
            stream.close()


@pytest.fixture
def launched() -> Iterator[list[Launcher]]:
    started: list[Launcher] = []
    yield started
    for launcher in started:
        launcher.kill()


def launch(launched: list[Launcher], *args: str) -> Launcher:
    launcher = Launcher(*args)
    launched.append(launcher)
    return launcher


def two_free_addresses() -> list[str]:
    return [f"127.0.0.1:{procs.free_port()}" for _ in range(2)]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_it_serves_says_where_and_a_signal_stops_everything(
    launched: list[Launcher], signum: signal.Signals
) -> None:
    addresses = two_free_addresses()
    args = [arg for a in addresses for arg in ("--listen", a)]
    launcher = launch(launched, *args, "--contextstore", shlex.join(STANDIN))
    launcher.wait_for("ready")

    urls = launcher.logged(r"redis node \d listens on (\S+)")
    assert len(urls) == 3 and len(launcher.pids("redis node")) == 3
    for url in urls:
        with redis.Redis.from_url(url, decode_responses=True) as r:
            assert r.cluster("INFO")["cluster_state"] == "ok"
    assert launcher.logged(r"contextstore server listens on (\S+)") == addresses
    assert len(launcher.pids("contextstore server")) == 2
    for address in addresses:
        with ContextStoreClient(address, timeout=10) as client:
            assert client.server_info().version
    hint = next(line for line in launcher.lines if "try:" in line)
    assert f"--target {addresses[0]}" in hint and f"--target {addresses[1]}" in hint
    workdir = Path(launcher.logged(r"files in (\S+)")[0])
    assert workdir.is_dir()

    launcher.proc.send_signal(signum)
    status, stderr = launcher.finish()
    assert (status, stderr) == (0, "")
    pids = launcher.pids("redis node") + launcher.pids("starting contextstore")
    assert len(pids) == 5 and still_running(pids) == []
    assert not workdir.exists()


def test_a_port_in_use_is_one_line_and_exit_1_with_nothing_started(
    launched: list[Launcher],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        launcher = launch(launched, "--listen", address, "--listen", two_free_addresses()[0])
        status, stderr = launcher.finish()
    assert status == 1
    assert stderr.count("\n") == 1 and f"{address} is already in use" in stderr
    assert launcher.lines == []  # no node was started


def test_a_server_that_does_not_start_stops_the_rest_and_exits_1(
    launched: list[Launcher],
) -> None:
    addresses = two_free_addresses()
    args = [arg for a in addresses for arg in ("--listen", a)]
    refusing = shlex.join([*STANDIN, "--refuse"])
    launcher = launch(launched, *args, "--contextstore", refusing)
    status, stderr = launcher.finish()
    assert status == 1
    assert stderr.count("\n") == 1
    assert f"the server for {addresses[0]} exited with status 1" in stderr
    assert "refused by the stand-in" in stderr
    redis_pids, server_pids = launcher.pids("redis node"), launcher.pids("starting contextstore")
    assert (len(redis_pids), len(server_pids)) == (3, 2)
    assert still_running(redis_pids + server_pids) == []
