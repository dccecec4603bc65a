"""What a session must answer, call by call, for the Redis fault and concurrency tests.

``OwnSession``: a session one thread alone touches, so every answer is known exactly
(read-your-writes across servers, the stale-analysis rule, counts and stats). ``Scribe``: the
same idea for the fault tests, where a failed write leaves its path's content uncertain and a
Redis that lost its data answers misses. ``SharedSessions``: sessions every thread writes,
where a read must at least name the session and path it asked for.

Every content is a ``tag`` naming its session and path, so bytes of another session or path are
caught by any read.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence

from server.redis_load import owner, tag

from contextstore.client import (
    CachedFile,
    ContextStoreClient,
    ContextStoreError,
    FileUpload,
    Removed,
    Stats,
)

PATHS = ("src/a.py", "src/b.py", "lib/c.py")
TYPES = ("ast", "symbols")


def check_file(session: str, path: str, got: CachedFile | None) -> bytes | None:
    """A read of ``path`` in ``session``: its content, after checking it belongs there."""
    if got is None:
        return None
    content, meta = got.content, got.metadata
    assert owner(content)[:2] == [session, path], f"{session}/{path} read {content!r}"
    assert (meta.path, meta.size) == (path, len(content))
    assert meta.sha256 == hashlib.sha256(content).digest()
    return content


class OwnSession:
    """A session only one thread calls: the model every answer must match exactly."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.files: dict[str, bytes] = {}
        self.analyses: dict[tuple[str, str], bytes] = {}
        self.exists = False  # created by a write, gone with clear_session
        self.hits = self.misses = 0
        self.uncertain = False  # a call failed: what it did is unknown, stop checking
        self.found = self.missing = 0  # every read's outcome: the store-wide hits and misses

    def step(self, client: ContextStoreClient, rnd: random.Random, i: int) -> None:
        """One random call on this session through ``client``, its answer checked."""
        handle = client.session(self.session)
        try:
            self._step(handle, rnd, i)
        except ContextStoreError:
            self.uncertain = True
            raise

    def _step(self, c: ContextStoreClient, rnd: random.Random, i: int) -> None:
        op, path, kind = rnd.randrange(100), rnd.choice(PATHS), rnd.choice(TYPES)
        if op < 20:
            self._write(c, [path], i)
        elif op < 28:
            self._write(c, rnd.sample(PATHS, 2), i)
        elif op < 46:
            self._expect_files([path], [c.get_file(path)])
        elif op < 54:
            self._expect_files(list(PATHS), c.batch_get_files(PATHS))
        elif op < 68:
            result = tag(self.session, path, kind, i)
            c.cache_analysis(path, kind, result)
            self.analyses[path, kind] = result
            self.exists = True
        elif op < 84:
            got = c.get_analysis(path, kind)
            self._count(self.analyses.get((path, kind)), got.result if got else None)
        elif op < 91:
            self._expect_removed(c.invalidate_file(path), path, None)
        elif op < 97:
            if rnd.randrange(2):
                count, which = c.invalidate_analyses(path), None
            else:
                count, which = c.invalidate_analysis(path, kind), kind
            self._expect_removed(Removed(0, count), path, which, files=False)
        else:
            self._expect_removed(c.clear_session(), None, None)

    def _write(self, c: ContextStoreClient, paths: list[str], i: int) -> None:
        contents = {p: tag(self.session, p, i) for p in paths}
        if len(paths) == 1:
            metas = [c.cache_file(paths[0], contents[paths[0]])]
        else:
            metas = c.batch_cache_files(FileUpload(p, contents[p]) for p in paths)
        if self.uncertain:
            return
        for meta, path in zip(metas, paths, strict=True):
            assert meta.sha256 == hashlib.sha256(contents[path]).digest()
            self.files[path] = contents[path]
            # New content: every analysis of the path is stale (the staleness rule).
            for key in [k for k in self.analyses if k[0] == path]:
                del self.analyses[key]
        self.exists = True

    def _expect_files(self, paths: Sequence[str], got: Sequence[CachedFile | None]) -> None:
        for path, found in zip(paths, got, strict=True):
            self._count(self.files.get(path), check_file(self.session, path, found))

    def _count(self, want: bytes | None, got: bytes | None) -> None:
        self.found += got is not None
        self.missing += got is None
        if self.uncertain:
            return
        assert got == want, f"{self.session}: read {got!r}, the last write was {want!r}"
        if got is not None:
            self.hits += 1
        elif self.exists:  # a miss in a namespace that does not exist counts store-wide only
            self.misses += 1

    def _expect_removed(
        self, removed: Removed, path: str | None, kind: str | None, *, files: bool = True
    ) -> None:
        if self.uncertain:
            return
        gone = [k for k in self.analyses if path is None or (k[0] == path and kind in (None, k[1]))]
        paths = [p for p in self.files if path is None or p == path] if files else []
        assert removed == Removed(len(paths), len(gone)), f"{self.session}: removed {removed}"
        for key in gone:
            del self.analyses[key]
        for p in paths:
            del self.files[p]
        if path is None:  # clear_session: the namespace starts again from nothing
            self.exists, self.hits, self.misses = False, 0, 0

    def expected_stats(self) -> Stats:
        size = sum(len(c) + len(p) for p, c in self.files.items())
        size += sum(len(r) + len(p) + len(t) for (p, t), r in self.analyses.items())
        return Stats(
            files=len(self.files),
            analyses=len(self.analyses),
            bytes=size,
            sessions=int(self.exists),
            hits=self.hits,
            misses=self.misses,
            evictions=0,
            expirations=0,
        )

    def check(self, client: ContextStoreClient) -> None:
        """After the load: stats, then every entry, are exactly what the model holds."""
        handle = client.session(self.session)
        assert handle.stats() == self.expected_stats(), self.session
        self._expect_files(list(PATHS), handle.batch_get_files(PATHS))
        for path in PATHS:
            for kind in TYPES:
                got = handle.get_analysis(path, kind)
                self._count(self.analyses.get((path, kind)), got.result if got else None)


class Scribe:
    """Writes a path of one session, then reads it back, in turns (``step``).

    A read must be a content this scribe wrote to that path: the last write acknowledged,
    or one that failed since (a write whose answer was lost may have landed). It may be a
    miss only once a call has failed: a Redis restarted empty, or a primary killed, lost it.
    """

    def __init__(self, session: str) -> None:
        self.session = session
        self.possible: dict[str, set[bytes]] = defaultdict(set)
        self.failed = False

    def step(self, client: ContextStoreClient, i: int) -> None:
        handle = client.session(self.session)
        path = PATHS[i // 2 % len(PATHS)]
        try:
            if i % 2 == 0:
                content = tag(self.session, path, i)
                self.possible[path].add(content)
                handle.cache_file(path, content)
                self.possible[path] = {content}
                return
            got = check_file(self.session, path, handle.get_file(path))
        except ContextStoreError:
            self.failed = True
            raise
        if got is None:
            assert self.failed, f"{self.session}/{path}: a miss, although nothing failed"
        elif self.failed:
            assert got in self.possible[path], (
                f"{self.session}/{path}: {got!r} is neither the last write acknowledged "
                "nor one that failed since"
            )
        else:
            assert self.possible[path] == {got}, f"{self.session}/{path}: {got!r} is not the last"


def label(ns: str | None) -> str:
    """The name a content gives its namespace: the global one is not a session "global"."""
    return ":global" if ns is None else ns


class SharedWriter:
    """One thread's calls on namespaces every thread writes: what it wrote last, what it read.

    A read must name the namespace and path (and type) it asked for; its exact content
    depends on how the threads interleaved, so it is checked after the load (``last``).
    """

    def __init__(self, writer: int, namespaces: list[str | None]) -> None:
        self.writer = writer
        self.namespaces = namespaces
        # The last write this thread saw acknowledged, per (namespace, path, type or None).
        self.last: dict[tuple[str | None, str, str | None], bytes] = {}
        self.found = self.missing = 0

    def step(self, client: ContextStoreClient, rnd: random.Random, i: int) -> None:
        ns = rnd.choice(self.namespaces)
        c, name = client.session(ns), label(ns)
        op, path, kind = rnd.randrange(100), rnd.choice(PATHS), rnd.choice(TYPES)
        if op < 35:
            paths = [path] if op < 25 else rnd.sample(PATHS, 2)
            contents = {p: tag(name, p, self.writer, i) for p in paths}
            if len(paths) == 1:
                c.cache_file(path, contents[path])
            else:
                c.batch_cache_files(FileUpload(p, contents[p]) for p in paths)
            self.last.update({(ns, p, None): contents[p] for p in paths})
        elif op < 55:
            self._count(check_file(name, path, c.get_file(path)))
        elif op < 65:
            for p, found in zip(PATHS, c.batch_get_files(PATHS), strict=True):
                self._count(check_file(name, p, found))
        elif op < 80:
            result = tag(name, path, kind, self.writer, i)
            c.cache_analysis(path, kind, result)
            self.last[ns, path, kind] = result
        elif op < 95:
            analysis = c.get_analysis(path, kind)
            got = analysis.result if analysis else None
            if got is not None:
                assert owner(got)[:3] == [name, path, kind], f"{name}: {got!r}"
            self._count(got)
        else:
            c.invalidate_file(path)

    def _count(self, got: bytes | None) -> None:
        self.found += got is not None
        self.missing += got is None
