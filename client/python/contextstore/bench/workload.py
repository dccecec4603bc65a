"""What a benchmark sends: a weighted mix of RPCs over sessions, keys and payloads.

How requests are serialized ahead of the calls, within bounded memory, is
``contextstore.bench.prepared``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

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
# These send a payload of --payload-bytes (a batch, one per file); the others keys only.
PAYLOAD_OPS = frozenset({"cache", "analysis_put", "batch_cache"})


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
    """Deterministic content per key: every worker sends the same bytes for a key.

    Every key's content is a slice of one shared buffer (its offset varies with
    the key, so contents differ), so payloads cost the largest payload plus
    256 bytes, however many keys and namespaces there are.
    """

    def __init__(self, workload: Workload) -> None:
        rng = random.Random(workload.seed)
        low, high = workload.payload_bytes
        self._sizes = [rng.randint(low, high) for _ in range(workload.keys)]
        self.buffer = memoryview(rng.randbytes(high + 256)).toreadonly()

    def size(self, key: int) -> int:
        return self._sizes[key]

    def span(self, key: int) -> slice:
        """Where ``key``'s content lies in ``buffer``."""
        start = key % 256
        return slice(start, start + self._sizes[key])

    def content(self, key: int) -> bytes:
        """A copy of ``key``'s content."""
        return bytes(self.buffer[self.span(key)])
