"""Figure W4: what re-reading unchanged files costs on the wire, with ``known_sha256`` or not.

An agent that already holds a file's content passes its digest; while the
content is current the server answers with the metadata alone. The figure
counts every byte between client and server, both ways (HTTP/2 framing,
headers, trailers), through a relay that forwards and counts: the bytes a
network would carry, not a model of them.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from benchmarks import procs
from benchmarks.figures import Figure, Measure, Target
from contextstore.client import CachedFile, ContextStoreClient, FileUpload

W4_TARGET = Target("<=", 0.1)
FILES = 1000
FILE_BYTES = 4096
BATCH = 100


class CountingRelay:
    """A TCP relay to ``upstream`` on a free local port, counting bytes both ways."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self.bytes = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.bytes = 0

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(self._upstream)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            with source:
                while data := source.recv(1 << 16):
                    with self._lock:
                        self.bytes += len(data)
                    sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:  # the other side went away: the connection is over
            pass

    def close(self) -> None:
        self._listener.close()


@contextmanager
def _relay(upstream: str) -> Iterator[CountingRelay]:
    relay = CountingRelay(upstream)
    try:
        yield relay
    finally:
        relay.close()


@dataclass(frozen=True, slots=True)
class WireBytes:
    plain: int
    known: int


def _paths(files: int) -> list[str]:
    return [f"src/pkg_{i % 10}/module_{i}.py" for i in range(files)]


def _reread(relay: CountingRelay, files: int, *, batched: bool) -> WireBytes:
    """Bytes on the wire for reading every file: without, then with, ``known_sha256``."""
    paths = _paths(files)
    sides = []
    for known in (False, True):
        with ContextStoreClient(relay.address) as client:
            session = client.session("w4")
            session.server_info()  # the connection and its settings, before counting
            digests = {p: f.metadata.sha256 for p, f in _read_all(session, paths, None, batched)}
            relay.reset()
            found = list(_read_all(session, paths, digests if known else None, batched))
            sides.append(relay.bytes)
        assert all(f.unchanged == known for _, f in found), "a read did not come back as asked"
    return WireBytes(plain=sides[0], known=sides[1])


def _read_all(
    session: ContextStoreClient, paths: list[str], known: dict[str, bytes] | None, batched: bool
) -> Iterator[tuple[str, CachedFile]]:
    if batched:
        for start in range(0, len(paths), BATCH):
            chunk = paths[start : start + BATCH]
            subset = None if known is None else {p: known[p] for p in chunk}
            found = session.batch_get_files(chunk, known_sha256=subset)
            for path, file in zip(chunk, found, strict=True):
                assert file is not None
                yield path, file
        return
    for path in paths:
        file = session.get_file(path, known_sha256=None if known is None else known[path])
        assert file is not None
        yield path, file


def unchanged_rereads(files: int = FILES) -> Figure:
    """W4: GetFile of ``files`` unchanged 4 KiB files, bytes with ``known_sha256`` ÷ without."""
    with procs.contextstore_server() as server, _relay(server.address) as relay:
        with ContextStoreClient(server.address) as client:
            uploads = [FileUpload(p, os.urandom(FILE_BYTES)) for p in _paths(files)]
            for start in range(0, files, BATCH):
                client.session("w4").batch_cache_files(uploads[start : start + BATCH])
        single = _reread(relay, files, batched=False)
        batched = _reread(relay, files, batched=True)
    how = f"{files:,} files of {FILE_BYTES // 1024} KiB, one GetFile each, both directions"
    return Figure(
        key="W4",
        title="Unchanged re-reads: bytes on the wire, with known_sha256 ÷ without",
        numerator=Measure(single.known, "B", f"with known_sha256 ({how})"),
        denominator=Measure(single.plain, "B", f"without ({how})"),
        target=W4_TARGET,
        notes=(
            "counted by a TCP relay between client and server: HTTP/2 frames, headers and "
            "trailers included, the connection's setup excluded (one call made before counting)",
            f"per file: {single.plain / files:,.0f} B without, {single.known / files:,.0f} B "
            f"with (GetFile); BatchGetFiles of {BATCH}: {batched.plain / files:,.0f} B and "
            f"{batched.known / files:,.0f} B, a ratio of {batched.known / batched.plain:.3g}",
        ),
    )
