"""Child processes that never outlive us, and free ports to run them on.

Three layers, because each catches what the others miss:

- callers stop what they start (context managers, ``finally``);
- an ``atexit`` hook SIGKILLs whatever is still running when the interpreter exits;
- where util-linux's ``setpriv`` exists, each child gets a parent-death signal, so even a
  SIGKILLed parent (no ``atexit``) takes its children with it. Linux sends that signal when
  the *thread* that forked the child ends, not the process, so every child is forked by one
  spawner thread that lives as long as the interpreter, never by a test's short-lived thread.

Children run in their own session: a Ctrl-C in the terminal reaches only us, and we stop
them in order (servers before the Redis nodes they use) instead of all dying at once.
"""

from __future__ import annotations

import atexit
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
# Redis Cluster's bus listens on the node's port + 10000.
BUS_OFFSET = 10000
MAX_PORT = 65535

# One worker, never idle-reaped: it forks every child and lives until interpreter exit.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devtools-spawner")
_LIVE: set[subprocess.Popen[Any]] = set()
_LIVE_LOCK = threading.Lock()


def spawn(
    argv: Sequence[str], *, death_signal: signal.Signals = signal.SIGKILL, **options: Any
) -> subprocess.Popen[Any]:
    """Start ``argv`` in a new session; it gets ``death_signal`` should we die first."""
    setpriv = shutil.which("setpriv")
    signame = death_signal.name.removeprefix("SIG")
    command = [setpriv, "--pdeathsig", signame, "--", *argv] if setpriv else list(argv)

    def popen() -> subprocess.Popen[Any]:
        return subprocess.Popen(command, start_new_session=True, **options)

    process = _SPAWNER.submit(popen).result()
    with _LIVE_LOCK:
        _LIVE.add(process)
    return process


def stop(process: subprocess.Popen[Any], *, timeout: float = 10.0) -> int:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; the exit status (reaped, no zombie)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return _reap(process)


def kill(process: subprocess.Popen[Any]) -> int:
    """SIGKILL and reap; the exit status."""
    if process.poll() is None:
        process.kill()
    return _reap(process)


def _reap(process: subprocess.Popen[Any]) -> int:
    status = process.wait()
    with _LIVE_LOCK:
        _LIVE.discard(process)
    return status


@atexit.register
def _kill_leftovers() -> None:
    with _LIVE_LOCK:
        leftovers = list(_LIVE)
    for process in leftovers:
        kill(process)


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a listener could bind ``host:port`` now (SO_REUSEADDR, as servers set it)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(*, with_bus: bool = False, host: str = LOOPBACK) -> int:
    """A port free now (the kernel's pick), and with ``with_bus`` its cluster bus port too.

    Free now is not free later: whoever starts a process on it must retry on a bind failure.
    """
    for _ in range(200):
        with socket.socket() as s:
            s.bind((host, 0))
            port: int = s.getsockname()[1]
        if not with_bus:
            return port
        if port + BUS_OFFSET <= MAX_PORT and port_is_free(port + BUS_OFFSET, host):
            return port
    raise RuntimeError("no free port with a free cluster bus port beside it")


def tail(path: Path, lines: int = 5) -> str:
    """The last ``lines`` lines of a log file, for an error message."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (dead, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def still_running(pids: Iterable[int], *, timeout: float = 15.0) -> list[int]:
    """Those of ``pids`` still running once all are gone or ``timeout`` has passed."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.02)  # a poll interval: what ends them is another process's exit
    return left
