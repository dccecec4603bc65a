"""The processes the suite measures and drives: servers, ghz, h2load, redis.

Every server runs as its own process, pinned to CPU 0, and every load
generator to CPU 1 (``taskset``): on a small machine a load generator that
shares the server's cores measures itself as much as the server. Both sides of
every ratio run under the same pinning. The one exception is h2load, which
figure F1 runs unpinned with its servers unpinned too: the same ratio must
hold where the scheduler, not ``taskset``, places the work.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from contextstore.bench.localserver import LocalServer, local_server, stop

SERVER_CPU = "0"
LOAD_CPU = "1"
REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / ".tools" / "bin"


def pinned(argv: Sequence[str], cpus: str) -> list[str]:
    """``argv`` run on ``cpus`` where the machine has more than one CPU."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return list(argv)
    return ["taskset", "-c", cpus, *argv]


@contextmanager
def on_cpu(cpu: str) -> Iterator[None]:
    """Run this thread, and the threads it starts, on ``cpu`` (as ``pinned`` does a process)."""
    if (os.cpu_count() or 1) < 2:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(cpu)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def tool(name: str) -> str:
    """A tool `make tools` installs, or one on PATH (redis and h2load from Debian)."""
    path = TOOLS / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is missing: run `make tools`, `make redis`, `make h2load`")
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU time process ``pid`` has used so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime: fields 14 and 15 of stat(5), 12 and 13 after "pid (comm)".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_field(pid: int, field: str) -> int:
    """A size from /proc/PID/status (VmRSS, VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


FLOOR_SERVER = (sys.executable, str(REPO / "benchmarks" / "floor.py"))
"""The cheapest GetFile grpcio allows (F1's and F3's baseline), taking our flags."""
PLAIN_SERVER = (sys.executable, str(REPO / "benchmarks" / "plain.py"))
"""Our server with today's BatchGetFiles, messages built per call (F2's baseline)."""


@contextmanager
def contextstore_server(
    *flags: str, command: Sequence[str] | None = None, pin: bool = True
) -> Iterator[LocalServer]:
    """``contextstore serve`` (or ``command``) on a free port, pinned to the server CPU.

    ``pin=False``: free to run on any CPU, for measures taken unpinned (h2load).
    """
    wrapper = pinned([], SERVER_CPU) if pin else []
    with local_server(flags, wrapper=wrapper, command=command) as server:
        yield server


def _drain(stream: IO[str]) -> None:
    """Read what nobody else will, so a chatty process never blocks on a full pipe."""

    def read_all() -> None:
        with stream:
            stream.read()

    threading.Thread(target=read_all, daemon=True).start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class LoadResult:
    """One load generator's run (ghz's, or h2load's with its own counts)."""

    rps: float
    count: int
    errors: dict[str, int]
    p50_us: float
    """The median call's latency, from ghz's ``latencyDistribution``."""


def protoset(out: Path) -> Path:
    """The contract as a descriptor set: ghz's own parser rejects proto3 ``optional``."""
    from grpc_tools import protoc

    proto = "contextstore/v1/context_store.proto"
    well_known = Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{REPO / 'protos'}", f"-I{well_known}", "--include_imports"]
    args.append(f"--descriptor_set_out={out}")
    if protoc.main([*args, proto]) != 0:
        raise RuntimeError("protoc could not build the descriptor set")
    return out


def ghz(
    address: str,
    rpc: str,
    data: object,
    *,
    protoset_path: Path,
    concurrency: int,
    calls: int,
    tls_flags: Sequence[str] = (),
) -> LoadResult:
    """A closed-loop ghz run of ``calls`` calls, pinned to the load CPU.

    A count, not a duration: at the end of a timed run ghz cancels the calls
    still in flight and counts them as UNAVAILABLE, which is noise, not news.
    ``tls_flags`` (certificates, metadata) replace ``--insecure``.
    """
    security = list(tls_flags) or ["--insecure"]
    argv = [tool("ghz"), *security, "--protoset", str(protoset_path), "-O", "json"]
    request = json.dumps(data)
    if "{{" not in request:
        # A fixed request: rendering it as a template per call would cost ghz, not the server.
        argv += ["--disable-template-functions", "--disable-template-data"]
    argv += ["--call", f"contextstore.v1.ContextStoreService/{rpc}", "-d", request]
    argv += ["-c", str(concurrency), "-n", str(calls), address]
    done = subprocess.run(pinned(argv, LOAD_CPU), capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    errors = {k: v for k, v in (report.get("statusCodeDistribution") or {}).items() if k != "OK"}
    return LoadResult(report["rps"], report["count"], errors, _p50_us(report))


def _p50_us(report: dict[str, Any]) -> float:
    """ghz's 50th percentile in µs (its JSON gives durations in ns); NaN if it has none."""
    for row in report.get("latencyDistribution") or ():
        if row["percentage"] == 50:
            return float(row["latency"]) / 1000
    return math.nan


@dataclass(frozen=True, slots=True)
class H2loadResult:
    """What h2load counted: it sees HTTP/2 responses, not the gRPC statuses in their trailers."""

    rps: float
    succeeded: int
    data_bytes: int
    """DATA frame payload received: every response's gRPC frames, 5 bytes of framing each."""


_H2LOAD_RPS = re.compile(r"^finished in .*?, ([\d.]+) req/s", re.M)
_H2LOAD_SUCCEEDED = re.compile(r"^requests: .*?(\d+) succeeded", re.M)
_H2LOAD_DATA = re.compile(r"^traffic: .*\((\d+)\) data$", re.M)


def grpc_frame(message: bytes) -> bytes:
    """One length-prefixed gRPC message: flag 0 (uncompressed), 4-byte big-endian length."""
    return b"\0" + struct.pack(">I", len(message)) + message


def h2load(
    address: str,
    method: str,
    request: bytes,
    *,
    calls: int,
    clients: int,
    streams: int,
    cpu: str | None = None,
) -> H2loadResult:
    """``calls`` unary gRPC calls as HTTP/2 POSTs from h2load, pinned to ``cpu`` if given.

    ``request`` is the serialized request message, sent framed on ``clients``
    connections with ``streams`` in flight on each.
    """
    with tempfile.NamedTemporaryFile(prefix="h2load-", suffix=".bin") as body:
        body.write(grpc_frame(request))
        body.flush()
        argv = [tool("h2load"), "-c", str(clients), "-m", str(streams), "-n", str(calls)]
        argv += ["-d", body.name, "-H", "content-type: application/grpc", "-H", "te: trailers"]
        argv.append(f"http://{address}/{method}")
        if cpu is not None:
            argv = pinned(argv, cpu)
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return parse_h2load(out)


def parse_h2load(out: str) -> H2loadResult:
    """h2load's summary: req/s, requests that got a whole 2xx response, data bytes."""
    found = [p.search(out) for p in (_H2LOAD_RPS, _H2LOAD_SUCCEEDED, _H2LOAD_DATA)]
    if not all(found):
        raise RuntimeError(f"h2load printed no summary:\n{out}")
    rps, succeeded, data = (m.group(1) for m in found if m is not None)
    return H2loadResult(float(rps), int(succeeded), int(data))


@dataclass(frozen=True, slots=True)
class RedisProcess:
    """A redis-server of ours: where it listens, and its pid (to read its CPU time)."""

    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@contextmanager
def redis_server() -> Iterator[RedisProcess]:
    """A throwaway redis-server on a free port, pinned to the server CPU, no persistence.

    The suite's one way to start Redis: figure 2's yardstick and the Redis
    backend's figures (R1-R4) all run on it.
    """
    port = free_port()
    argv = [tool("redis-server"), "--port", str(port), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        pinned(argv, SERVER_CPU), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            raise RuntimeError(f"redis-server exited with {process.wait()}")
        _drain(process.stdout)
        # taskset execs redis-server: the pid is Redis's own.
        yield RedisProcess(port, process.pid)
    finally:
        stop(process)


def redis_benchmark_get(port: int, *, value_bytes: int, clients: int, requests: int) -> float:
    """GET requests/s from redis-benchmark, no pipelining, pinned to the load CPU."""
    argv = [tool("redis-benchmark"), "-p", str(port), "-t", "get", "-d", str(value_bytes)]
    argv += ["-c", str(clients), "-n", str(requests), "-P", "1", "--csv"]
    done = subprocess.run(pinned(argv, LOAD_CPU), capture_output=True, text=True, check=True)
    rows = [line.split(",") for line in done.stdout.splitlines() if line.startswith('"GET')]
    return float(rows[-1][1].strip('"'))
