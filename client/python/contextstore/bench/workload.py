"""What a benchmark sends: a weighted mix of RPCs over sessions, keys and payloads.

Requests are serialized once, up front: a worker cycles through a *plan*, a
pre-drawn sequence of (operation, request bytes), so a call costs no protobuf
work and no random draws on the hot path. Single-key requests are built once
per (operation, namespace, key); batches come from a small pool per namespace.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from contextstore.v1 import context_store_pb2 as pb

SERVICE = "/contextstore.v1.ContextStoreService/"
# Mix name -> RPC. ``analysis`` in a mix is shorthand for half get, half put.
OPS: Mapping[str, str] = {
    "get": "GetFile",
    "metadata": "GetMetadata",
    "cache": "CacheFile",
    "analysis_get": "GetAnalysis",
    "analysis_put": "CacheAnalysis",
    "invalidate": "InvalidateFile",
    "invalidate_analysis": "InvalidateAnalysis",
    "clear": "ClearSession",
    "batch_get": "BatchGetFiles",
    "batch_cache": "BatchCacheFiles",
}
# NOT_FOUND from these is a cache miss, an ordinary outcome once a mix invalidates or clears.
READS = frozenset({"get", "metadata", "analysis_get"})
ANALYSIS_TYPE = "bench"
BATCH_POOL = 32  # pre-built batches per (operation, namespace)


def parse_mix(text: str) -> dict[str, float]:
    """``get=80,cache=10,analysis=5`` -> weights by operation; ``analysis`` splits in two."""
    mix: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, weight = item.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"a mix item is OP=WEIGHT, got {item!r}")
        names = ["analysis_get", "analysis_put"] if name == "analysis" else [name]
        for op in names:
            mix[op] = mix.get(op, 0.0) + float(weight) / len(names)
    return check_mix(mix)


def check_mix(mix: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(mix) - set(OPS))
    if unknown:
        raise ValueError(f"unknown operation(s) {unknown}; known: {', '.join(OPS)}, analysis")
    if any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError("mix weights must be >= 0 and not all 0")
    return {op: float(w) for op, w in mix.items() if w > 0}


@dataclass(frozen=True, slots=True)
class Workload:
    """The keys, payloads and mix of a run; identical in every worker (it is pickled)."""

    mix: Mapping[str, float] = field(default_factory=lambda: {"get": 1.0})
    sessions: int = 1
    global_namespace: bool = False
    keys: int = 1000
    distribution: str = "uniform"
    zipf_s: float = 1.1
    payload_bytes: tuple[int, int] = (1024, 1024)
    batch_size: int = 10
    seed: int = 1

    def __post_init__(self) -> None:
        check_mix(self.mix)
        if self.distribution not in ("uniform", "zipf"):
            raise ValueError(f"distribution is uniform or zipf, got {self.distribution!r}")
        if self.keys < 1 or self.batch_size < 1 or self.sessions < 0:
            raise ValueError("keys and batch size must be >= 1, sessions >= 0")
        if not self.namespaces():
            raise ValueError("no namespace: use sessions >= 1 or the global namespace")

    def namespaces(self) -> list[str | None]:
        """Named sessions ``bench-0``..., then ``None`` (global) when included."""
        named: list[str | None] = [session_name(i) for i in range(self.sessions)]
        return [*named, None] if self.global_namespace else named


def session_name(index: int) -> str:
    return f"bench-{index}"


def key_path(index: int) -> str:
    return f"src/pkg{index % 100:02d}/module{index:07d}.py"


def key_weights(workload: Workload) -> list[float] | None:
    """Zipf weights 1/rank^s, key 0 the most popular; ``None`` for uniform."""
    if workload.distribution == "uniform":
        return None
    return [1.0 / (rank**workload.zipf_s) for rank in range(1, workload.keys + 1)]


def draw_keys(workload: Workload, rng: random.Random, count: int) -> list[int]:
    """``count`` key indices drawn from the workload's distribution."""
    weights = key_weights(workload)
    if weights is None:
        return [rng.randrange(workload.keys) for _ in range(count)]
    return rng.choices(range(workload.keys), weights=weights, k=count)


class Payloads:
    """Deterministic content per key: every worker sends the same bytes for a key."""

    def __init__(self, workload: Workload) -> None:
        rng = random.Random(workload.seed)
        low, high = workload.payload_bytes
        self._sizes = [rng.randint(low, high) for _ in range(workload.keys)]
        self._buffer = rng.randbytes(high + 256)

    def content(self, key: int) -> bytes:
        start = key % 256
        return self._buffer[start : start + self._sizes[key]]


class RequestBuilder:
    """Serialized requests of every operation, memoized per (op, namespace, key)."""

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.payloads = Payloads(workload)
        self._single: dict[tuple[str, str | None, int], bytes] = {}
        self._batches: dict[tuple[str, str | None], list[bytes]] = {}

    def single(self, op: str, session: str | None, key: int) -> bytes:
        memo = (op, session, key)
        if memo not in self._single:
            self._single[memo] = _single_request(op, session, key, self.payloads)
        return self._single[memo]

    def batch(self, op: str, session: str | None, rng: random.Random) -> bytes:
        pool = self._batches.setdefault((op, session), [])
        if len(pool) < BATCH_POOL:
            pool.append(self._new_batch(op, session, rng))
            return pool[-1]
        return rng.choice(pool)

    def _new_batch(self, op: str, session: str | None, rng: random.Random) -> bytes:
        count = min(self.workload.batch_size, self.workload.keys)
        if op == "batch_get":
            keys = draw_keys(self.workload, rng, count)
            paths = [key_path(k) for k in keys]
            return pb.BatchGetFilesRequest(session_id=session, paths=paths).SerializeToString()
        # BatchCacheFiles refuses repeated paths, so draw until `count` distinct keys.
        distinct: dict[int, None] = {}
        while len(distinct) < count:
            distinct.update(dict.fromkeys(draw_keys(self.workload, rng, count - len(distinct))))
        return batch_cache_request(session, list(distinct), self.payloads)


def batch_cache_request(session: str | None, keys: list[int], payloads: Payloads) -> bytes:
    files = [pb.FileUpload(path=key_path(k), content=payloads.content(k)) for k in keys]
    return pb.BatchCacheFilesRequest(session_id=session, files=files).SerializeToString()


def _single_request(op: str, session: str | None, key: int, payloads: Payloads) -> bytes:
    path = key_path(key)
    if op == "cache":
        content = payloads.content(key)
        return pb.CacheFileRequest(
            session_id=session, path=path, content=content
        ).SerializeToString()
    if op == "analysis_put":
        request = pb.CacheAnalysisRequest(
            session_id=session, path=path, analysis_type=ANALYSIS_TYPE, result=payloads.content(key)
        )
        return request.SerializeToString()
    if op == "analysis_get":
        request_ = pb.GetAnalysisRequest(session_id=session, path=path, analysis_type=ANALYSIS_TYPE)
        return request_.SerializeToString()
    if op == "invalidate_analysis":
        return pb.InvalidateAnalysisRequest(session_id=session, path=path).SerializeToString()
    if op == "clear":
        return pb.ClearSessionRequest(session_id=session).SerializeToString()
    message = {"get": pb.GetFileRequest, "metadata": pb.GetMetadataRequest}.get(
        op, pb.InvalidateFileRequest
    )
    return message(session_id=session, path=path).SerializeToString()


Plan = list[tuple[str, bytes]]


def build_plan(workload: Workload, *, size: int, seed: int) -> Plan:
    """``size`` pre-drawn (operation, request) pairs: ops by weight, keys by distribution."""
    rng = random.Random(seed)
    builder = RequestBuilder(workload)
    ops = rng.choices(list(workload.mix), weights=list(workload.mix.values()), k=size)
    keys = draw_keys(workload, rng, size)
    spaces = workload.namespaces()
    plan: Plan = []
    for op, key in zip(ops, keys, strict=True):
        session = rng.choice(spaces)
        if op.startswith("batch_"):
            plan.append((op, builder.batch(op, session, rng)))
        else:
            plan.append((op, builder.single(op, session, key)))
    return plan


def preload_requests(
    workload: Workload, *, worker: int, workers: int, max_items: int, max_bytes: int
) -> Iterator[tuple[str, bytes]]:
    """(RPC, request) pairs caching this worker's share of every key, in every namespace.

    Files go in batches within the server's item and message limits; analyses
    (only when the mix reads them) one call each, as there is no batch call.
    """
    payloads = Payloads(workload)
    mine = range(worker, workload.keys, workers)
    for session in workload.namespaces():
        for chunk in _chunks(list(mine), payloads, max_items=max_items, max_bytes=max_bytes):
            yield "BatchCacheFiles", batch_cache_request(session, chunk, payloads)
        if "analysis_get" in workload.mix:
            for key in mine:
                yield "CacheAnalysis", _single_request("analysis_put", session, key, payloads)


def _chunks(
    keys: list[int], payloads: Payloads, *, max_items: int, max_bytes: int
) -> Iterator[list[int]]:
    chunk: list[int] = []
    size = 0
    for key in keys:
        item = len(payloads.content(key)) + len(key_path(key)) + 16
        if chunk and (len(chunk) >= max_items or size + item > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(key)
        size += item
    if chunk:
        yield chunk
