"""What the suite measures, in order, at full or quick scale.

F1, the headline, comes first; then F2-F4 and the older figures. Figures
that share a side share its runs: F1, F4 and S1 one set of GetFile rounds
(whose floor side is also 4b's denominator), F2, 2 and R2 one set of
BatchGetFiles rounds, measured by whichever step comes first, with the sides
the chosen figures need.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from benchmarks import (
    agreement,
    coordination,
    headline,
    latency,
    memory,
    redis_store,
    service,
    sharing,
    store,
    watchers,
)
from benchmarks.figures import Figure, Measure, Target

Step = Callable[[Sequence[Figure]], Figure]


@dataclass(frozen=True, slots=True)
class Plan:
    quick: bool
    protoset: Path
    only: Collection[str] | None = None
    """Keys to run (``--only``): "4" runs 4a and 4b; None runs every figure."""

    def runs(self, key: str) -> bool:
        return self.only is None or key in self.only or key.rstrip("ab") in self.only


@dataclass(frozen=True, slots=True)
class Scales:
    service: service.ServiceScale
    latency: latency.LatencyScale
    mixed: store.MixedLoad
    clears: tuple[int, int, int]
    """Figures 3 and R3: the small and large store sizes, and how many clears to time."""
    files: int
    floods: tuple[memory.Flood, memory.Flood]
    agreement: agreement.AgreementScale
    redis_files: int
    """Figure R4: files cached in Redis on each side."""
    rereads: int
    """Figure W4: files read again, unchanged."""
    watch: watchers.WatchScale
    """Figures W1 and W2."""
    sharing: sharing.SharingScale
    """Figure W3."""


FULL = Scales(
    service=service.ServiceScale(),
    latency=latency.LatencyScale(),
    mixed=store.MixedLoad(),
    clears=(10_000, 1_000_000, 400),
    files=1_000_000,
    floods=(memory.Flood(), memory.Flood(payload_bytes=1024, budget_bytes=32 * memory.MiB)),
    agreement=agreement.AgreementScale(),
    redis_files=100_000,
    rereads=1000,
    watch=watchers.WatchScale(),
    sharing=sharing.SharingScale(),
)
QUICK = Scales(
    service=service.ServiceScale(
        rounds=1,
        unary_calls=2000,
        batch_calls=200,
        redis_requests=20_000,
        h2load_calls=2000,
        sequential_calls=300,
        sequential_rounds=1,
    ),
    latency=latency.LatencyScale(max_seconds=1.0, open_seconds=1.0, warmup_seconds=0.5),
    mixed=store.MixedLoad(paths=20, ops_per_thread=300),
    clears=(200, 2000, 20),
    files=20_000,
    floods=(memory.Flood(payload_bytes=1024, budget_bytes=1 << 20, overwrite=2.0),) * 2,
    agreement=agreement.AgreementScale(rounds=1, seconds=1.0),
    redis_files=2000,
    rereads=200,
    watch=watchers.WatchScale(rounds=1, calls=2000, watchers=16, events=200),
    sharing=sharing.SharingScale(sessions=10, files=200),
)


def plan(p: Plan) -> list[tuple[str, Step]]:
    s = QUICK if p.quick else FULL
    get_file, batch = _shared_rounds(s, p)
    return [
        ("F1", lambda _: headline.floor_get_file(s.service, get_file())),
        ("F2", lambda _: headline.batch_vs_today(batch())),
        ("F3", lambda _: _sequential_latency(s.service, p.protoset)),
        ("F4", lambda _: service.redis_get_file(s.service, get_file())),
        ("2", lambda _: service.batch_vs_redis(batch())),
        ("3", lambda _: _clear_cost(s.clears)),
        ("4a", lambda _: store.striping(load=s.mixed, rounds=1 if p.quick else 5)),
        ("4b", lambda _: store_vs_server(service.floor_rate(s.service, get_file()), s, p)),
        ("5a", lambda _: memory.entry_overhead(files=s.files)),
        ("5b", lambda _: _flood_peak(s.floods, p.protoset)),
        ("6", lambda _: latency.latency_under_load(s.latency)),
        ("7", lambda _: agreement.bench_vs_ghz(s.agreement, protoset=p.protoset)),
        ("R2", lambda _: service.redis_batch(batch())),
        ("R3", lambda _: _redis_clear_cost(s.clears)),
        ("R4", lambda _: redis_store.memory_per_file(files=s.redis_files)),
        ("S1", lambda _: service.secured_get_file(s.service, get_file())),
        ("W1", lambda _: watchers.watchers_vs_none(s.watch, protoset=p.protoset)),
        ("W2", lambda _: watchers.event_delay(s.watch)),
        ("W3", lambda _: sharing.shared_vs_distinct(s.sharing)),
        ("W4", lambda _: coordination.unchanged_rereads(s.rereads)),
    ]


def _shared_rounds(
    s: Scales, p: Plan
) -> tuple[Callable[[], service.Rounds], Callable[[], service.Rounds]]:
    """GetFile and BatchGetFiles rounds, each measured once, on first use."""
    get_file_sides = [service.MEMORY] if any(map(p.runs, ("F1", "F4", "S1"))) else []
    get_file_sides += [service.FLOOR] if p.runs("F1") or p.runs("4b") else []
    get_file_sides += [service.H2_MEMORY, service.H2_FLOOR] if p.runs("F1") else []
    get_file_sides += [service.REDIS] if p.runs("F4") else []
    get_file_sides += [service.SECURED] if p.runs("S1") else []
    batch_sides = [service.MEMORY]
    batch_sides += [service.PLAIN] if p.runs("F2") else []
    batch_sides += [service.YARDSTICK] if p.runs("2") else []
    batch_sides += [service.REDIS] if p.runs("R2") else []

    @cache
    def get_file() -> service.Rounds:
        return service.get_file_rounds(s.service, protoset=p.protoset, sides=get_file_sides)

    @cache
    def batch() -> service.Rounds:
        return service.batch_rounds(s.service, protoset=p.protoset, sides=batch_sides)

    return get_file, batch


def _clear_cost(sizes: tuple[int, int, int]) -> Figure:
    small, large, clears = sizes
    return store.clear_cost(small=small, large=large, clears=clears)


def _redis_clear_cost(sizes: tuple[int, int, int]) -> Figure:
    small, large, clears = sizes
    return redis_store.clear_cost(small=small, large=large, clears=clears)


def _flood_peak(floods: tuple[memory.Flood, memory.Flood], protoset: Path) -> Figure:
    return memory.flood_peak(main=floods[0], small=floods[1], protoset=protoset)


def _sequential_latency(scale: service.ServiceScale, protoset: Path) -> Figure:
    return headline.sequential_latency(scale, service.sequential_rounds(scale, protoset=protoset))


def store_vs_server(floor: Measure, s: Scales, p: Plan) -> Figure:
    """Figure 4b: the store's in-process ops/s ÷ the floor's GetFile calls/s.

    Against the floor, not our server: a faster server must not fail it.
    """
    ours_rate = store.store_rate(load=s.mixed, rounds=1 if p.quick else 3)
    return Figure(
        key="4b",
        title="The store is never the bottleneck: store ops/s ÷ the floor's GetFile calls/s",
        numerator=ours_rate,
        denominator=floor,
        target=Target(">=", 20.0),
    )
