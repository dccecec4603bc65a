"""Concurrency through the real server: many threads, overlapping namespaces and paths.

Sixteen threads start together (``threading.Barrier``) and each runs a bounded,
seeded mix of every data RPC against five namespaces (the global namespace, and
sessions including one literally named "global") over three kinds of paths:

* shared paths, written by anyone with ``CacheFile`` (then often analysed),
  read, analysed and invalidated by anyone;
* group paths, written only all together by ``BatchCacheFiles`` with one tag and
  removed only by ``ClearSession``, so every snapshot read of them must show
  all-missing or all with one tag;
* owned paths, one per thread, whose file and "digest" analysis only that
  thread writes (anyone may read, invalidate or clear them).

Every content encodes its namespace, path, writer and sequence number, and every
analysis result its namespace, so each read is checked on the spot: no read ever
sees another namespace's data or a value nobody wrote, metadata matches content,
and versions never go back for one thread. What staleness the store rules out is
asserted only where it is observable: the owned-path rule below, and, after the
run, that re-caching a file's exact content keeps its analyses (which holds only
if no analysis recorded against another digest survived). Afterwards a full scan
must agree with the whole-store and per-session stats, and the store-wide
hit/miss counters must account for every lookup made, exactly.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from contextstore.client import (
    CachedFile,
    ContextStoreClient,
    FileMetadata,
    FileUpload,
    Stats,
)
from contextstore.server.app import Server

StartServer = Callable[..., Server]
Ns = str | None

THREADS = 16
OPS_PER_THREAD = 250
RPC_TIMEOUT = 30.0
NAMESPACES: tuple[Ns, ...] = (None, "alpha", "beta", "global", "delta")
SHARED = tuple(f"src/mod{i}.py" for i in range(8))
GROUP = tuple(f"grp/part{i}" for i in range(4))
OWNED = tuple(f"own/t{t:02d}" for t in range(THREADS))
ALL_PATHS = SHARED + GROUP + OWNED
TYPES = ("digest", "size")

# op name -> weight; the mix every thread draws from.
OPS: dict[str, int] = {
    "write": 18,
    "read": 16,
    "read_analysis": 10,
    "metadata": 4,
    "invalidate": 6,
    "batch_write": 8,
    "batch_read_group": 12,
    "batch_read_mixed": 6,
    "own": 12,
    "clear": 1,
}


def token(ns: Ns) -> str:
    """How content names its namespace; no session here is called "~global"."""
    return "~global" if ns is None else ns


def encode(ns: Ns, path: str, writer: int, seq: int, tag: str = "") -> bytes:
    head = f"ns={token(ns)};path={path};w={writer};n={seq};tag={tag};"
    # Varying padding makes byte accounting depend on which write won.
    return head.encode() + b"." * ((writer * 7 + seq) % 13)


def decode(content: bytes) -> dict[str, str]:
    head = content.rstrip(b".").decode()
    return dict(item.split("=", 1) for item in head.split(";") if item)


def labels_for(writer: int, seq: int, tag: str) -> dict[str, str]:
    """Labels are a function of what the content encodes, so reads can check them."""
    if tag:
        return {"tag": tag}
    return {"writer": f"t{writer}"} if seq % 3 == 0 else {}


def digest_result(ns: Ns, content: bytes) -> bytes:
    return f"{token(ns)}:{hashlib.sha256(content).hexdigest()}".encode()


def size_result(ns: Ns, content: bytes) -> bytes:
    return f"{token(ns)}:{len(content)}".encode()


def file_charge(path: str, content: bytes, labels: Mapping[str, str]) -> int:
    label_bytes = sum(len(k.encode()) + len(v.encode()) for k, v in labels.items())
    return len(content) + len(path.encode()) + label_bytes


def analysis_charge(path: str, analysis_type: str, result: bytes) -> int:
    return len(result) + len(path.encode()) + len(analysis_type.encode())


@dataclass(frozen=True, slots=True)
class Window:
    """An interval on the run's logical clock: before sending, after returning."""

    start: int
    end: int

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class OwnStep:
    """One owner step: cache a content, then maybe its digest analysis."""

    window: Window
    content: bytes
    analysed: bool


@dataclass
class Run:
    """What the threads did, shared under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ticks: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    written: defaultdict[tuple[Ns, str], set[bytes]] = field(
        default_factory=lambda: defaultdict(set)
    )
    analysed: defaultdict[tuple[Ns, str, str], set[bytes]] = field(
        default_factory=lambda: defaultdict(set)
    )
    # (ns, path or None for ClearSession) -> windows of removals that may have applied.
    removals: defaultdict[tuple[Ns, str | None], list[Window]] = field(
        default_factory=lambda: defaultdict(list)
    )
    own_steps: defaultdict[tuple[Ns, int], list[OwnStep]] = field(
        default_factory=lambda: defaultdict(list)
    )
    lookups: defaultdict[Ns, int] = field(default_factory=lambda: defaultdict(int))
    hits: int = 0
    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def tick(self) -> int:
        with self.lock:
            return next(self.ticks)

    def wrote(self, ns: Ns, path: str, content: bytes) -> None:
        with self.lock:
            self.written[(ns, path)].add(content)

    def analysed_as(self, ns: Ns, path: str, analysis_type: str, result: bytes) -> None:
        with self.lock:
            self.analysed[(ns, path, analysis_type)].add(result)

    def removed(self, ns: Ns, path: str | None, window: Window) -> None:
        with self.lock:
            self.removals[(ns, path)].append(window)

    def looked_up(self, ns: Ns, count: int, found: int) -> None:
        with self.lock:
            self.lookups[ns] += count
            self.hits += found

    def violation(self, message: str) -> None:
        with self.lock:
            self.violations.append(message)

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def was_written(self, ns: Ns, path: str, content: bytes) -> bool:
        with self.lock:
            return content in self.written.get((ns, path), ())

    def was_written_digest(self, ns: Ns, path: str, sha256: bytes, size: int) -> bool:
        with self.lock:
            written = list(self.written.get((ns, path), ()))
        return any(len(c) == size and hashlib.sha256(c).digest() == sha256 for c in written)

    def was_analysed(self, ns: Ns, path: str, analysis_type: str, result: bytes) -> bool:
        with self.lock:
            return result in self.analysed.get((ns, path, analysis_type), ())

    def removal_overlapping(self, ns: Ns, path: str, window: Window) -> bool:
        candidates = self.removals.get((ns, path), []) + self.removals.get((ns, None), [])
        return any(w.overlaps(window) for w in candidates)

    def removal_ending_after(self, ns: Ns, path: str, start: int) -> bool:
        candidates = self.removals.get((ns, path), []) + self.removals.get((ns, None), [])
        return any(w.end > start for w in candidates)


class Checker:
    """Per-thread checks of what one read or write returned."""

    def __init__(self, run: Run, who: str) -> None:
        self.run = run
        self.who = who
        self.seen: dict[tuple[Ns, str], tuple[int, datetime]] = {}

    def fail(self, message: str) -> None:
        self.run.violation(f"{self.who}: {message}")

    def observe(self, ns: Ns, path: str, meta: FileMetadata) -> None:
        """Versions (and cached_at) of one path never go back for one thread."""
        now = (meta.version, meta.cached_at)
        before = self.seen.get((ns, path))
        if before is not None and (now[0] < before[0] or now[1] < before[1]):
            self.fail(f"{token(ns)}/{path}: went back from {before} to {now}")
        self.seen[(ns, path)] = now

    def meta(self, ns: Ns, path: str, meta: FileMetadata, content: bytes) -> None:
        where = f"{token(ns)}/{path}"
        if meta.path != path:
            self.fail(f"{where}: metadata names path {meta.path!r}")
        if meta.sha256 != hashlib.sha256(content).digest() or meta.size != len(content):
            self.fail(f"{where}: metadata does not describe the content {content!r}")
        self.observe(ns, path, meta)

    def file(self, ns: Ns, path: str, found: CachedFile) -> str:
        """Check a read file; returns its tag ("" for single writes)."""
        where = f"{token(ns)}/{path}"
        try:
            fields = decode(found.content)
            writer, seq, tag = int(fields["w"]), int(fields["n"]), fields["tag"]
            ns_token, content_path = fields["ns"], fields["path"]
        except (ValueError, KeyError, UnicodeDecodeError):
            self.fail(f"{where}: undecodable content {found.content!r}")
            return ""
        if ns_token != token(ns):
            self.fail(f"{where}: read namespace {ns_token!r}'s content {found.content!r}")
        if content_path != path:
            self.fail(f"{where}: read path {content_path!r}'s content")
        if not self.run.was_written(ns, path, found.content):
            self.fail(f"{where}: read content nobody wrote there: {found.content!r}")
        if dict(found.metadata.labels) != labels_for(writer, seq, tag):
            self.fail(f"{where}: labels {dict(found.metadata.labels)} for {found.content!r}")
        self.meta(ns, path, found.metadata, found.content)
        return tag

    def group(self, ns: Ns, paths: Sequence[str], found: Sequence[CachedFile | None]) -> None:
        """A snapshot of group paths is all-missing, or all present with one tag."""
        pairs = list(zip(paths, found, strict=True))
        tags = {self.file(ns, p, f) if f is not None else None for p, f in pairs}
        if len(tags) > 1 or "" in tags:
            self.fail(f"{token(ns)}: torn group snapshot {dict(pairs)}")


@dataclass(frozen=True, slots=True)
class Worker:
    index: int
    run: Run
    barrier: threading.Barrier
    base: ContextStoreClient

    def __call__(self) -> None:
        check = Checker(self.run, f"thread {self.index}")
        rng = random.Random(7919 * (self.index + 1))
        handles = {ns: self.base.session(ns) for ns in NAMESPACES}
        names, weights = list(OPS), list(OPS.values())
        self.barrier.wait(timeout=RPC_TIMEOUT)
        for seq in range(OPS_PER_THREAD):
            ns = rng.choice(NAMESPACES)
            op = rng.choices(names, weights)[0]
            if op == "own":
                # Many steps on few owned paths, so one owner's history is long.
                ns = NAMESPACES[self.index % len(NAMESPACES)]
            try:
                self.step(op, ns, handles[ns], seq, rng, check)
            except Exception as error:
                self.run.error(f"thread {self.index} {op} in {token(ns)}: {error!r}")

    def step(
        self,
        op: str,
        ns: Ns,
        h: ContextStoreClient,
        seq: int,
        rng: random.Random,
        check: Checker,
    ) -> None:
        run, t = self.run, self.index
        if op == "write":
            path = rng.choice(SHARED)
            content = encode(ns, path, t, seq)
            labels = labels_for(t, seq, "")
            run.wrote(ns, path, content)
            meta = h.cache_file(path, content, labels=labels)
            check.meta(ns, path, meta, content)
            if dict(meta.labels) != labels:
                check.fail(f"{token(ns)}/{path}: wrote labels {labels}, got {meta.labels}")
            for analysis_type, make, chance in (
                ("digest", digest_result, 0.6),
                ("size", size_result, 0.3),
            ):
                if rng.random() < chance:
                    result = make(ns, content)
                    run.analysed_as(ns, path, analysis_type, result)
                    h.cache_analysis(path, analysis_type, result)
        elif op == "read":
            path = rng.choice(ALL_PATHS)
            found = h.get_file(path)
            run.looked_up(ns, 1, found is not None)
            if found is not None:
                check.file(ns, path, found)
        elif op == "read_analysis":
            path, analysis_type = rng.choice(SHARED + OWNED), rng.choice(TYPES)
            analysis = h.get_analysis(path, analysis_type)
            run.looked_up(ns, 1, analysis is not None)
            if analysis is not None and not run.was_analysed(
                ns, path, analysis_type, analysis.result
            ):
                check.fail(f"{token(ns)}/{path}: foreign {analysis_type} {analysis.result!r}")
        elif op == "metadata":
            path = rng.choice(SHARED + OWNED)
            seen_meta = h.get_metadata(path)
            run.looked_up(ns, 1, seen_meta is not None)
            if seen_meta is not None:
                if seen_meta.path != path:
                    check.fail(f"{token(ns)}/{path}: metadata names path {seen_meta.path!r}")
                if not run.was_written_digest(ns, path, seen_meta.sha256, seen_meta.size):
                    check.fail(f"{token(ns)}/{path}: metadata of content nobody wrote there")
                check.observe(ns, path, seen_meta)
        elif op == "invalidate":
            path = rng.choice(SHARED + OWNED)
            start = run.tick()
            try:
                removed = h.invalidate_file(path)
            finally:
                run.removed(ns, path, Window(start, run.tick()))
            if removed.files not in (0, 1) or not 0 <= removed.analyses <= len(TYPES):
                check.fail(f"{token(ns)}/{path}: invalidate removed {removed}")
        elif op == "batch_write":
            tag = f"t{t}n{seq}"
            uploads = [
                FileUpload(p, encode(ns, p, t, seq, tag), labels=labels_for(t, seq, tag))
                for p in GROUP
            ]
            for upload in uploads:
                run.wrote(ns, upload.path, upload.content)
            metas = h.batch_cache_files(uploads)
            if [m.path for m in metas] != list(GROUP):
                check.fail(f"{token(ns)}: batch metadata out of order: {metas}")
            for upload, meta in zip(uploads, metas, strict=True):
                check.meta(ns, upload.path, meta, upload.content)
        elif op == "batch_read_group":
            batch = h.batch_get_files(GROUP)
            run.looked_up(ns, len(GROUP), sum(f is not None for f in batch))
            check.group(ns, GROUP, batch)
        elif op == "batch_read_mixed":
            paths = rng.sample(ALL_PATHS, 6)
            batch = h.batch_get_files(paths)
            run.looked_up(ns, len(paths), sum(f is not None for f in batch))
            if [f.metadata.path for f in batch if f is not None] != [
                p for p, f in zip(paths, batch, strict=True) if f is not None
            ]:
                check.fail(f"{token(ns)}: batch results out of request order")
            # Whatever group paths the snapshot covers must be consistent too.
            in_group = [(p, f) for p, f in zip(paths, batch, strict=True) if p in GROUP]
            check.group(ns, [p for p, _ in in_group], [f for _, f in in_group])
            for path, f in zip(paths, batch, strict=True):
                if f is not None and path not in GROUP:
                    check.file(ns, path, f)
        elif op == "own":
            path = OWNED[t]
            content = encode(ns, path, t, seq)
            run.wrote(ns, path, content)
            # Half the steps leave the file unanalysed: then the previous
            # step's analysis, of other content, must not survive.
            analyse = rng.random() < 0.5
            start = run.tick()
            meta = h.cache_file(path, content, labels=labels_for(t, seq, ""))
            check.meta(ns, path, meta, content)
            if analyse:
                result = digest_result(ns, content)
                run.analysed_as(ns, path, "digest", result)
                h.cache_analysis(path, "digest", result)
            step = OwnStep(Window(start, run.tick()), content, analysed=analyse)
            with run.lock:
                run.own_steps[(ns, t)].append(step)
        elif op == "clear":
            start = run.tick()
            try:
                removed = h.clear_session()
            finally:
                run.removed(ns, None, Window(start, run.tick()))
            if removed.files < 0 or removed.analyses < 0:
                check.fail(f"{token(ns)}: clear removed {removed}")
        else:  # pragma: no cover - OPS and this dispatch must agree
            raise AssertionError(op)


@dataclass
class Scan:
    """The store's final content, read after every thread finished."""

    files: dict[tuple[Ns, str], CachedFile] = field(default_factory=dict)
    analyses: dict[tuple[Ns, str, str], bytes] = field(default_factory=dict)
    lookups: dict[Ns, int] = field(default_factory=dict)
    hits: int = 0

    def ns_files(self, ns: Ns) -> int:
        return sum(1 for n, _ in self.files if n == ns)

    def ns_analyses(self, ns: Ns) -> int:
        return sum(1 for n, _, _ in self.analyses if n == ns)

    def ns_bytes(self, ns: Ns) -> int:
        files = sum(
            file_charge(p, f.content, f.metadata.labels)
            for (n, p), f in self.files.items()
            if n == ns
        )
        analyses = sum(
            analysis_charge(p, kind, result)
            for (n, p, kind), result in self.analyses.items()
            if n == ns
        )
        return files + analyses


def scan(client: ContextStoreClient, run: Run) -> Scan:
    out = Scan()
    check = Checker(run, "final scan")
    for ns in NAMESPACES:
        h = client.session(ns)
        found = h.batch_get_files(ALL_PATHS)
        out.lookups[ns] = len(ALL_PATHS) * (1 + len(TYPES))
        for path, f in zip(ALL_PATHS, found, strict=True):
            if f is not None:
                out.hits += 1
                out.files[(ns, path)] = f
                if path not in GROUP:
                    check.file(ns, path, f)
        check.group(ns, GROUP, [found[ALL_PATHS.index(p)] for p in GROUP])
        for path in ALL_PATHS:
            for analysis_type in TYPES:
                analysis = h.get_analysis(path, analysis_type)
                if analysis is None:
                    continue
                out.hits += 1
                out.analyses[(ns, path, analysis_type)] = analysis.result
                if not run.was_analysed(ns, path, analysis_type, analysis.result):
                    check.fail(f"{token(ns)}/{path}: foreign {analysis_type} {analysis.result!r}")
    return out


def check_owned(run: Run, final: Scan) -> list[str]:
    """What only the owner writing a path makes certain.

    The owner caches content C_k, then maybe an analysis of C_k; nobody else writes
    that path. If no removal (InvalidateFile of the path, ClearSession of the
    namespace) can have applied between those two calls, the analysis was
    recorded against C_k's digest, and the owner's next CacheFile of a
    different content drops it. So an analysis of C_k that outlives C_k
    requires such a removal overlapping step k. The file itself can only be
    the owner's last content, or gone through a removal after that last step
    began.
    """
    problems = []
    for ns in NAMESPACES:
        for t, path in enumerate(OWNED):
            steps = run.own_steps.get((ns, t), [])
            where = f"{token(ns)}/{path}"
            found = final.files.get((ns, path))
            analysis = final.analyses.get((ns, path, "digest"))
            if not steps:
                if found is not None or analysis is not None:
                    problems.append(f"{where}: never written, yet holds {found} / {analysis!r}")
                continue
            last = steps[-1]
            if found is not None and found.content != last.content:
                problems.append(f"{where}: holds {found.content!r}, not the last write")
            if found is None and not run.removal_ending_after(ns, path, last.window.start):
                problems.append(f"{where}: gone, but no removal could have removed it")
            if analysis is None:
                continue
            matching = [s for s in steps if s.analysed and digest_result(ns, s.content) == analysis]
            if not matching:
                problems.append(f"{where}: analysis {analysis!r} of no content written there")
                continue
            step = matching[0]
            outlived = found is None or found.content != step.content
            if outlived and not run.removal_overlapping(ns, path, step.window):
                problems.append(
                    f"{where}: analysis of {step.content!r} outlived it with no removal "
                    f"during its step {step.window}"
                )
    return problems


def check_stats(whole: Stats, per_ns: Mapping[Ns, Stats], final: Scan, run: Run) -> list[str]:
    problems = []
    for ns, s in per_ns.items():
        want = (final.ns_files(ns), final.ns_analyses(ns), final.ns_bytes(ns))
        if (s.files, s.analyses, s.bytes) != want:
            problems.append(f"{token(ns)}: stats (files, analyses, bytes) {s} != scan {want}")
        if s.hits + s.misses > run.lookups[ns] or s.evictions or s.expirations:
            problems.append(f"{token(ns)}: counters {s} beyond {run.lookups[ns]} lookups")
        if want[:2] != (0, 0) and s.sessions != 1:
            problems.append(f"{token(ns)}: holds entries but sessions={s.sessions}")
    totals = (len(final.files), len(final.analyses), sum(final.ns_bytes(ns) for ns in NAMESPACES))
    if (whole.files, whole.analyses, whole.bytes) != totals:
        problems.append(f"whole store (files, analyses, bytes) {whole} != scan {totals}")
    holding = sum(final.ns_files(ns) + final.ns_analyses(ns) > 0 for ns in NAMESPACES)
    if not holding <= whole.sessions <= len(NAMESPACES):
        problems.append(f"whole store sessions={whole.sessions}, {holding} namespaces hold data")
    if whole.evictions or whole.expirations:
        problems.append(f"nothing may be evicted or expire here: {whole}")
    return problems


def hammer(server: Server, *, shared_channel: bool) -> None:
    run = Run()
    barrier = threading.Barrier(THREADS)
    with ExitStack() as stack:
        main = stack.enter_context(ContextStoreClient(server.address, timeout=RPC_TIMEOUT))
        bases = [
            main
            if shared_channel
            else stack.enter_context(ContextStoreClient(server.address, timeout=RPC_TIMEOUT))
            for _ in range(THREADS)
        ]
        threads = [
            threading.Thread(target=Worker(i, run, barrier, bases[i]), name=f"hammer-{i}")
            for i in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=4 * RPC_TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a worker hung"
        assert not run.errors, f"{len(run.errors)} RPCs failed: {run.errors[:10]}"
        assert not run.violations, f"{len(run.violations)} violations: {run.violations[:10]}"

        # Store-wide hit/miss counters are never reset: they count every lookup.
        during = main.store_stats()
        lookups = sum(run.lookups.values())
        assert (during.hits + during.misses, during.hits) == (lookups, run.hits)

        final = scan(main, run)
        assert not run.violations, f"final scan: {run.violations[:10]}"
        for ns, count in final.lookups.items():
            run.lookups[ns] += count
        per_ns = {ns: main.session(ns).stats() for ns in NAMESPACES}
        whole = main.store_stats()
        problems = check_stats(whole, per_ns, final, run) + check_owned(run, final)
        assert not problems, problems
        assert whole.hits - during.hits == final.hits
        assert whole.misses - during.misses == sum(final.lookups.values()) - final.hits
        # Not a store property: a sanity check that the run left data to check.
        assert final.files and final.analyses

        # No analysis recorded against another digest may sit beside a file:
        # re-caching the file's exact content keeps exactly such analyses.
        for (ns, path), f in final.files.items():
            h = main.session(ns)
            h.cache_file(path, f.content, labels=f.metadata.labels)
            for analysis_type in TYPES:
                before = final.analyses.get((ns, path, analysis_type))
                if before is None:
                    continue
                after = h.get_analysis(path, analysis_type)
                kept = after.result if after is not None else None
                assert kept == before, f"{token(ns)}/{path}: {analysis_type} dropped"
        again = main.store_stats()
        assert (again.files, again.analyses, again.bytes) == (
            whole.files,
            whole.analyses,
            whole.bytes,
        )


def test_threads_sharing_one_channel(server: Server) -> None:
    hammer(server, shared_channel=True)


def test_threads_with_own_channels_few_stripes(start_server: StartServer) -> None:
    # Four stripes: most batches span several stripes, and unrelated paths collide.
    hammer(start_server(stripes=4), shared_channel=False)


@pytest.mark.parametrize("ns", NAMESPACES)
def test_content_encoding_round_trips(ns: Ns) -> None:
    content = encode(ns, "grp/part1", 3, 9, "t3n9")
    assert decode(content) == {
        "ns": token(ns),
        "path": "grp/part1",
        "w": "3",
        "n": "9",
        "tag": "t3n9",
    }
