"""The reference model: random operation sequences on a store are compared,
return value by return value, with a plain-dict model written here (exact LRU
over a global recency counter, budgets, stale-analysis dropping, lazy idle
expiry). The model shares no logic with any store.

``StoreMachine(make_store, budgets)`` runs against any backend: the contract
runs it without a total budget (which entry goes first over the total is each
backend's own promise), the memory backend's tests with one (exact LRU).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    multiple,
    rule,
    run_state_machine_as_test,
)
from support import FakeClock

from contextstore.server.errors import QuotaExceeded
from contextstore.server.store.base import (
    Budgets,
    CachedAnalysis,
    CachedFile,
    FileMetadata,
    FileWrite,
    Namespace,
    Removed,
    Stats,
    Store,
    decode_metadata,
)

MakeStore = Callable[[FakeClock, Callable[[], int]], Store]
"""A fresh store of the backend under test, on the machine's fake clocks."""
NAMESPACES: list[Namespace] = [None, "s1", "s2", "global"]
PATHS = ["a", "ab", "b", "dé"]
PREFIXES = ["a", "d", "dé", "ab", "x"]  # and "" to list everything
TYPES = ["t1", "t2"]
# Small ones; two 60-byte ones overflow session_bytes (120) together; the last two
# overflow session_bytes and total_bytes (180) alone.
BLOBS = [b"", b"x", b"y", b"xy" * 5, b"q" * 30, b"r" * 60, b"s" * 60, b"w" * 125, b"z" * 205]
LABELS: list[dict[str, str]] = [{}, {"k": "v"}, {"ké": "vé"}]

Key = tuple[Namespace, str, str | None]  # (namespace, path, None or analysis type)

namespaces = st.just("s1") | st.sampled_from(NAMESPACES)  # "s1" is a hot session
paths = st.sampled_from(PATHS)
types = st.sampled_from(TYPES)
blobs = st.sampled_from(BLOBS)
labels = st.sampled_from(LABELS)
ns_paths = st.tuples(namespaces, paths)
file_keys: Bundle[tuple[Namespace, str]] = Bundle("file_keys")
analysis_keys: Bundle[Key] = Bundle("analysis_keys")


def utf8(s: str) -> int:
    return len(s.encode("utf-8"))


@dataclass
class Entry:
    value: CachedFile | CachedAnalysis
    charge: int
    recency: int
    source: bytes | None = None  # analyses: digest of the file current when cached, if any


@dataclass
class Counters:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    stale_analyses_dropped: int = 0


@dataclass
class Model:
    clock: FakeClock
    budgets: Budgets
    entries: dict[Key, Entry] = field(default_factory=dict)
    last_access: dict[Namespace, float] = field(default_factory=dict)
    per_ns: dict[Namespace, Counters] = field(default_factory=dict)
    store_wide: Counters = field(default_factory=Counters)
    expirations: int = 0
    recency: int = 0

    def tick(self) -> int:
        self.recency += 1
        return self.recency

    # -- sessions --
    def expire_if_idle(self, ns: Namespace) -> int:
        last = self.last_access.get(ns)
        ttl = self.budgets.session_ttl_seconds
        if ns is None or last is None or ttl <= 0 or self.clock.now - last < ttl:
            return 0
        self.drop(ns)
        self.expirations += 1
        return 1

    def begin(self, ns: Namespace, *, create: bool) -> bool:
        """Lazy expiry then touch; returns whether the namespace exists."""
        self.expire_if_idle(ns)
        if ns not in self.last_access:
            if not create:
                return False
            self.per_ns[ns] = Counters()
        self.last_access[ns] = self.clock.now
        return True

    def drop(self, ns: Namespace) -> Removed:
        keys = [k for k in self.entries if k[0] == ns]
        for k in keys:
            del self.entries[k]
        self.last_access.pop(ns, None)
        self.per_ns.pop(ns, None)
        return Removed(sum(k[2] is None for k in keys), sum(k[2] is not None for k in keys))

    # -- budgets --
    def violations(self, charge: int, count: int) -> set[str]:
        b = self.budgets
        found = set()
        if b.total_bytes and charge > b.total_bytes:
            found.add("total_bytes")
        if b.session_bytes and charge > b.session_bytes:
            found.add("session_bytes")
        if b.session_entries and count > b.session_entries:
            found.add("session_entries")
        return found

    def evict_lru(self, ns_only: bool, ns: Namespace) -> None:
        candidates = [k for k in self.entries if not ns_only or k[0] == ns]
        victim = min(candidates, key=lambda k: self.entries[k].recency)
        del self.entries[victim]
        self.store_wide.evictions += 1
        self.per_ns[victim[0]].evictions += 1

    def enforce(self, ns: Namespace) -> None:
        def ns_over() -> bool:
            mine = [e for k, e in self.entries.items() if k[0] == ns]
            b = self.budgets
            return bool(
                (b.session_bytes and sum(e.charge for e in mine) > b.session_bytes)
                or (b.session_entries and len(mine) > b.session_entries)
            )

        while ns_over():
            self.evict_lru(True, ns)

        def total_over() -> bool:
            total = self.budgets.total_bytes
            return bool(total and sum(e.charge for e in self.entries.values()) > total)

        if total_over():
            for idle in list(self.last_access):
                self.expire_if_idle(idle)
        while total_over():
            self.evict_lru(False, ns)

    # -- data --
    def drop_analyses(self, ns: Namespace, path: str, keep_digest: bytes | None) -> int:
        """Drop the path's analyses except those recorded against ``keep_digest``."""
        doomed = [
            k
            for k, e in self.entries.items()
            if k[:2] == (ns, path)
            and k[2] is not None
            and (keep_digest is None or e.source != keep_digest)
        ]
        for k in doomed:
            del self.entries[k]
        return len(doomed)

    def put_file(self, ns: Namespace, meta: FileMetadata, content: bytes, charge: int) -> None:
        # Only analyses recorded against this very content survive: not those of
        # other content, nor those cached while no file was there (source None).
        stale = self.drop_analyses(ns, meta.path, meta.sha256)
        self.store_wide.stale_analyses_dropped += stale
        self.per_ns[ns].stale_analyses_dropped += stale
        self.entries[(ns, meta.path, None)] = Entry(CachedFile(content, meta), charge, self.tick())

    def read(self, ns: Namespace, key: Key, known: bool) -> CachedFile | CachedAnalysis | None:
        entry = self.entries.get(key) if known else None
        counters = [self.store_wide] + ([self.per_ns[ns]] if known else [])
        for c in counters:
            c.hits += entry is not None
            c.misses += entry is None
        if entry is None:
            return None
        entry.recency = self.tick()
        return entry.value

    def stats(self, ns: Namespace, whole: bool) -> Stats:
        if whole:
            self.expire_idle()
        else:
            self.expire_if_idle(ns)
        chosen = [k for k in self.entries if whole or k[0] == ns]
        counters = self.store_wide if whole else self.per_ns.get(ns, Counters())
        return Stats(
            files=sum(k[2] is None for k in chosen),
            analyses=sum(k[2] is not None for k in chosen),
            bytes=sum(self.entries[k].charge for k in chosen),
            sessions=len(self.last_access) if whole else int(ns in self.last_access),
            hits=counters.hits,
            misses=counters.misses,
            evictions=counters.evictions,
            expirations=self.expirations if whole else 0,
            stale_analyses_dropped=counters.stale_analyses_dropped,
        )

    def expire_idle(self) -> int:
        return sum(self.expire_if_idle(ns) for ns in list(self.last_access))


class StoreMachine(RuleBasedStateMachine):
    def __init__(self, make_store: MakeStore, budgets: Budgets) -> None:
        super().__init__()
        self.clock = FakeClock(1000.0)
        self.wall_ns = 5_000
        self.store = make_store(self.clock, lambda: self.wall_ns)
        self.model = Model(self.clock, budgets)
        # Never reset: versions and cached_at must grow across every write of a path.
        self.last_file: dict[tuple[Namespace, str], FileMetadata] = {}
        self.last_analysis_at: dict[Key, int] = {}

    def _same_stats(self, ns: Namespace) -> None:
        """Per-namespace stats right after an operation on ``ns``: it was just
        touched (or does not exist), so this cannot expire it."""
        assert self.store.stats(ns) == self.model.stats(ns, False)

    # -- writes --
    def _check_meta(self, ns: Namespace, write: FileWrite, meta: FileMetadata) -> None:
        assert (meta.path, meta.size, meta.mtime_ns) == (write.path, len(write.content), 7)
        assert meta.sha256 == hashlib.sha256(write.content).digest()
        assert dict(meta.labels) == write.labels
        assert meta.cached_at_ns >= self.wall_ns
        before = self.last_file.get((ns, write.path))
        if before is not None:
            assert meta.version > before.version
            assert meta.cached_at_ns >= before.cached_at_ns + 1000  # a microsecond apart
        self.last_file[(ns, write.path)] = meta

    def _fails(self, charge: int, count: int, call: Callable[[], object]) -> bool:
        """Whether the write must be refused; if so, check that it is."""
        violated = self.model.violations(charge, count)
        if not violated:
            return False
        with pytest.raises(QuotaExceeded) as err:
            call()
        assert err.value.limit in violated
        return True

    @staticmethod
    def _charge(write: FileWrite) -> int:
        labels: Mapping[str, str] = write.labels
        label_bytes = sum(utf8(k) + utf8(v) for k, v in labels.items())
        return len(write.content) + utf8(write.path) + label_bytes

    def _write(
        self, ns: Namespace, files: list[tuple[str, bytes, dict[str, str]]], batch: bool
    ) -> list[tuple[Namespace, str]]:
        """Cache files alone or as one batch; returns the keys written."""
        writes = [FileWrite(p, c, dict(lbl), 7) for p, c, lbl in files[: 3 if batch else 1]]
        charges = [self._charge(w) for w in writes]

        def call() -> list[FileMetadata]:
            if batch:
                return self.store.batch_cache_files(ns, writes)
            return [self.store.cache_file(ns, writes[0])]

        if self._fails(sum(charges), len(writes), call):
            return []
        metas = call()
        self.model.begin(ns, create=bool(writes))  # an empty batch creates nothing
        assert len(metas) == len(writes)
        for w, meta, charge in zip(writes, metas, charges, strict=True):
            self._check_meta(ns, w, meta)
            self.model.put_file(ns, meta, w.content, charge)
        self.model.enforce(ns)
        self._same_stats(ns)
        return [(ns, w.path) for w in writes]

    @rule(
        target=file_keys,
        ns=namespaces,
        files=st.lists(
            st.tuples(paths, blobs, labels), min_size=0, max_size=3, unique_by=lambda f: f[0]
        ),
        batch=st.booleans(),
    )
    def cache_files(
        self, ns: Namespace, files: list[tuple[str, bytes, dict[str, str]]], batch: bool
    ) -> MultipleResults[tuple[Namespace, str]]:
        # No files: an empty batch, the one write that stores nothing.
        return multiple(*self._write(ns, files, batch or not files))

    @rule(target=file_keys, key=file_keys, content=blobs, label=labels)
    def recache_file(
        self, key: tuple[Namespace, str], content: bytes, label: dict[str, str]
    ) -> MultipleResults[tuple[Namespace, str]]:
        return multiple(*self._write(key[0], [(key[1], content, label)], False))

    @rule(target=analysis_keys, key=file_keys | file_keys | ns_paths, kind=types, result=blobs)
    def cache_analysis(
        self, key: tuple[Namespace, str], kind: str, result: bytes
    ) -> MultipleResults[Key]:
        ns, path = key
        charge = len(result) + utf8(path) + utf8(kind)
        if self._fails(charge, 1, lambda: self.store.cache_analysis(ns, path, kind, result)):
            return multiple()
        got = self.store.cache_analysis(ns, path, kind, result)
        assert got.result == result and got.cached_at_ns >= self.wall_ns
        before = self.last_analysis_at.get((ns, path, kind))
        assert before is None or got.cached_at_ns >= before + 1000
        self.last_analysis_at[(ns, path, kind)] = got.cached_at_ns
        self.model.begin(ns, create=True)
        source = self.model.entries.get((ns, path, None))
        file = source.value if source is not None else None
        digest = file.metadata.sha256 if isinstance(file, CachedFile) else None
        self.model.entries[(ns, path, kind)] = Entry(got, charge, self.model.tick(), digest)
        self.model.enforce(ns)
        self._same_stats(ns)
        return multiple((ns, path, kind))

    @initialize(
        target=file_keys,
        ns=namespaces,
        files=st.lists(st.tuples(paths, st.sampled_from(BLOBS[:6]), labels), max_size=6),
    )
    def seed(
        self, ns: Namespace, files: list[tuple[str, bytes, dict[str, str]]]
    ) -> MultipleResults[tuple[Namespace, str]]:
        """Start from some state: a few plain writes into one namespace."""
        return multiple(*(k for f in files for k in self._write(ns, [f], False)))

    # -- reads --
    @rule(key=file_keys | ns_paths, how=st.sampled_from(["file", "metadata"]))
    def get_file(self, key: tuple[Namespace, str], how: str) -> None:
        ns, path = key
        known = self.model.begin(ns, create=False)
        expected = self.model.read(ns, (ns, path, None), known)
        if how == "file":
            assert self.store.get_file(ns, path) == expected
        else:
            meta = expected.metadata if isinstance(expected, CachedFile) else None
            assert self.store.get_metadata(ns, path) == meta
        self._same_stats(ns)

    @rule(key=file_keys | ns_paths, others=st.lists(paths, max_size=4), at=st.integers(0, 4))
    def batch_get_files(self, key: tuple[Namespace, str], others: list[str], at: int) -> None:
        ns, path = key
        wanted = [*others[:at], path, *others[at:]]
        known = self.model.begin(ns, create=False)
        expected = [self.model.read(ns, (ns, p, None), known) for p in wanted]
        assert self.store.batch_get_files(ns, wanted) == expected
        self._same_stats(ns)

    @rule(key=analysis_keys | st.tuples(namespaces, paths, types))
    def get_analysis(self, key: Key) -> None:
        ns, path, kind = key
        assert kind is not None
        known = self.model.begin(ns, create=False)
        expected = self.model.read(ns, key, known)
        assert self.store.get_analysis(ns, path, kind) == expected
        self._same_stats(ns)

    # -- removals --
    @rule(key=file_keys | ns_paths)
    def invalidate_file(self, key: tuple[Namespace, str]) -> None:
        ns, path = key
        self.model.begin(ns, create=False)
        files = int(self.model.entries.pop((ns, path, None), None) is not None)
        expected = Removed(files, self.model.drop_analyses(ns, path, None))
        assert self.store.invalidate_file(ns, path) == expected
        self._same_stats(ns)

    @rule(key=analysis_keys, every_type=st.booleans())
    def invalidate_analysis(self, key: Key, every_type: bool) -> None:
        ns, path, kind = (*key[:2], None) if every_type else key
        self.model.begin(ns, create=False)
        if kind is None:
            expected = self.model.drop_analyses(ns, path, None)
        else:
            expected = int(self.model.entries.pop((ns, path, kind), None) is not None)
        assert self.store.invalidate_analysis(ns, path, kind).analyses == expected
        self._same_stats(ns)

    @rule(ns=namespaces, prefix=st.sampled_from(PREFIXES), limit=st.sampled_from([1, 2, 100]))
    def list_files(self, ns: Namespace, prefix: str, limit: int) -> None:
        """Every page, in turn, against the model's files in path order."""
        prefix = "" if prefix == "x" and limit == 100 else prefix
        self.model.begin(ns, create=False)
        expected = sorted(
            (k[1], e.value.metadata.version)  # type: ignore[union-attr]
            for k, e in self.model.entries.items()
            if k[0] == ns and k[2] is None and k[1].startswith(prefix)
        )
        listed, after = [], None
        for _ in range(len(PATHS) + 1):
            page = self.store.list_files(ns, prefix, after, limit)
            assert len(page.files) <= limit
            listed += [(p, decode_metadata(p, tail).version) for p, tail in page.files]
            if page.next_after is None:
                break
            after = page.next_after
        assert listed == expected
        self._same_stats(ns)  # listing counts no hit

    @rule(ns=namespaces, prefix=st.sampled_from(PREFIXES))
    def invalidate_prefix(self, ns: Namespace, prefix: str) -> None:
        self.model.begin(ns, create=False)
        gone = [k for k in self.model.entries if k[0] == ns and k[1].startswith(prefix)]
        for k in gone:
            del self.model.entries[k]
        expected = Removed(sum(k[2] is None for k in gone), sum(k[2] is not None for k in gone))
        assert self.store.invalidate_prefix(ns, prefix) == expected
        self._same_stats(ns)

    @rule(ns=file_keys.map(lambda k: k[0]) | namespaces)
    def clear_session(self, ns: Namespace) -> None:
        self.model.expire_if_idle(ns)
        assert self.store.clear_session(ns) == self.model.drop(ns)
        self._same_stats(ns)

    # -- time and stats --
    @rule(
        seconds=st.sampled_from([0.0, 0.5, 2.0, 6.0, 9.999, 10.0, 30.0]),
        wall_step=st.sampled_from([0, 0, 1, -1_000, 10_000]),  # stalls, steps back
    )
    def time_passes(self, seconds: float, wall_step: int) -> None:
        self.clock.now += seconds
        self.wall_ns = max(1, self.wall_ns + wall_step)

    @rule(ns=namespaces, what=st.sampled_from(["expire_idle", "stats", "whole_store_stats"]))
    def observe(self, ns: Namespace, what: str) -> None:
        if what == "expire_idle":
            assert self.store.expire_idle() == self.model.expire_idle()
        else:
            whole = what == "whole_store_stats"
            got = self.store.store_stats() if whole else self.store.stats(ns)
            assert got == self.model.stats(ns, whole)


def check_against_model(make_store: MakeStore, budgets: Budgets) -> None:
    """Run random operation sequences on stores from ``make_store`` against the model."""

    class Machine(StoreMachine):
        def __init__(self) -> None:
            super().__init__(make_store, budgets)

    run_state_machine_as_test(
        Machine, settings=settings(max_examples=150, stateful_step_count=50, deadline=None)
    )
