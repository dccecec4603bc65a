"""A throwaway ``contextstore serve`` subprocess: for a run given no ``--target``,
and for every server the benchmark suite measures.

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

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_LISTEN = re.compile(r"\blisten=(\S+:\d+)")
# `python -c` keeps the remaining arguments in sys.argv[1:], which main() reads.
_SERVE = "from contextstore.cli.main import main; raise SystemExit(main())"


class ServerStartError(Exception):
    """The local server exited or stayed silent instead of starting."""


@dataclass(frozen=True, slots=True)
class LocalServer:
    address: str
    pid: int


def _pump(stream: Iterator[str], lines: Queue[str | None]) -> None:
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
    args: Sequence[str] = (), *, wrapper: Sequence[str] = (), module: str | None = None
) -> Iterator[LocalServer]:
    """Run ``contextstore serve --listen 127.0.0.1:0 ARGS``; yield it; stop it.

    ``wrapper`` prefixes the command, e.g. ``("taskset", "-c", "0")`` to pin the
    server; ``module`` runs ``python -m MODULE`` instead, a server taking the
    same flags (the suite's no-op baseline).
    """
    serve = [sys.executable, "-m", module] if module else [sys.executable, "-c", _SERVE, "serve"]
    command = [*wrapper, *serve, "--listen", "127.0.0.1:0", *args]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stderr is not None
    lines: Queue[str | None] = Queue()
    threading.Thread(target=_pump, args=(process.stderr, lines), daemon=True).start()
    try:
        yield LocalServer(_address(lines, []), process.pid)
    finally:
        stop(process)
