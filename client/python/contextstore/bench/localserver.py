"""A throwaway ``contextstore serve`` subprocess: for a run given no ``--target``,
and for every server the benchmark suite measures.

A subprocess, never an import: the load generator does not depend on the
server's code, only on the ``contextstore`` command (and the ``[server]``
extra being installed, which the command says when it is not).

The server picks a free port (``--listen 127.0.0.1:0``) and names it in its
``event=started ... listen=HOST:PORT`` log line, which is read back here. Its
stderr keeps being drained on a thread: a full pipe would block its logging.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from queue import Empty, Queue
from typing import IO

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_LISTEN = re.compile(r"\blisten=(\S+:\d+)")
SERVE = (sys.executable, "-m", "contextstore.cli", "serve")
"""``contextstore serve``, run by this interpreter."""


class ServerStartError(Exception):
    """The local server exited or stayed silent instead of starting."""


@dataclass(frozen=True, slots=True)
class LocalServer:
    address: str
    pid: int


def _pump(stream: IO[str], lines: Queue[str | None]) -> None:
    with stream:  # closed at the server's exit, not left to the garbage collector
        for line in stream:
            lines.put(line)
    lines.put(None)


def _address(lines: Queue[str | None], seen: list[str]) -> str:
    while True:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except Empty:
            raise ServerStartError(f"no started line within {START_TIMEOUT:g}s") from None
        if line is None:
            raise ServerStartError("the server exited before starting:\n" + "".join(seen))
        seen.append(line)
        match = _LISTEN.search(line) if "event=started" in line else None
        if match:
            return match.group(1)


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, which drains in-flight calls; SIGKILL if that takes too long."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


@contextmanager
def local_server(
    args: Sequence[str] = (), *, wrapper: Sequence[str] = (), command: Sequence[str] | None = None
) -> Iterator[LocalServer]:
    """Run ``contextstore serve --listen 127.0.0.1:0 ARGS``; yield it; stop it.

    ``wrapper`` prefixes the command, e.g. ``("taskset", "-c", "0")`` to pin the
    server; ``command`` replaces ``contextstore serve`` with another server
    taking the same flags and logging the same started line.
    """
    argv = [*wrapper, *(command or SERVE), "--listen", "127.0.0.1:0", *args]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stderr is not None
    lines: Queue[str | None] = Queue()
    threading.Thread(target=_pump, args=(process.stderr, lines), daemon=True).start()
    try:
        yield LocalServer(_address(lines, []), process.pid)
    finally:
        stop(process)
