"""The suite's server-side figures, at a tiny scale: they run and report sanely.

The figures' values are read from ``make bench``, not asserted here: a timed
assertion on a shared machine would test the machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks import procs, service
from benchmarks.figures import Figure, alternate, alternate_many
from contextstore.bench.localserver import ServerStartError

# Enough calls that the Redis side's CPU time spans several clock ticks (10 ms).
TINY = service.ServiceScale(rounds=1, unary_calls=2000, batch_calls=200, redis_requests=2000)


@pytest.fixture(scope="module")
def protoset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return procs.protoset(tmp_path_factory.mktemp("protoset") / "cs.protoset")


@pytest.fixture(scope="module")
def get_file_rounds(protoset: Path) -> service.Rounds:
    return service.get_file_rounds(
        TINY, protoset=protoset, sides=(service.MEMORY, service.FLOOR, service.REDIS)
    )


@pytest.fixture(scope="module")
def batch_rounds(protoset: Path) -> service.Rounds:
    sides = (service.MEMORY, service.REDIS, service.YARDSTICK)
    return service.batch_rounds(TINY, protoset=protoset, sides=sides)


def assert_sane(figure: Figure, key: str) -> None:
    assert figure.key == key
    assert figure.numerator.value > 0 and figure.denominator.value > 0
    assert figure.ratio == figure.numerator.value / figure.denominator.value
    assert figure.met == figure.target.met_by(figure.ratio)


def test_batch_vs_redis_runs_both_sides(batch_rounds: service.Rounds) -> None:
    figure = service.batch_vs_redis(batch_rounds)
    assert_sane(figure, "2")
    assert "redis-benchmark" in figure.denominator.what
    assert "redis-server CPU time per GET" in figure.notes[0]


def test_the_redis_backend_figures_share_the_memory_runs(
    get_file_rounds: service.Rounds, batch_rounds: service.Rounds
) -> None:
    f4 = service.redis_get_file(TINY, get_file_rounds)
    r2 = service.redis_batch(batch_rounds)

    assert_sane(f4, "F4")
    assert_sane(r2, "R2")
    assert f4.denominator.value == service.rate(get_file_rounds[service.MEMORY])
    assert r2.denominator.value == service.batch_vs_redis(batch_rounds).numerator.value
    assert "--backend redis" in f4.numerator.what and "--backend redis" in r2.numerator.what
    assert (f4.target.op, f4.target.bound, r2.target.bound) == (">=", 0.6, 0.5)


def test_the_floor_runs_unloaded_and_fast(get_file_rounds: service.Rounds) -> None:
    [floor], [ours] = get_file_rounds[service.FLOOR], get_file_rounds[service.MEMORY]

    # Served without a preload (it stores nothing), and measured like ours.
    assert floor.per_second > 0 and floor.server_cpu_us > 0 and floor.p50_us > 0
    assert ours.p50_us > 0


@pytest.mark.parametrize("rounds_of", ["get_file_rounds", "batch_rounds"])
def test_each_call_costs_cpu_where_it_runs(rounds_of: str, request: pytest.FixtureRequest) -> None:
    rounds: service.Rounds = request.getfixturevalue(rounds_of)
    [memory], [redis] = rounds[service.MEMORY], rounds[service.REDIS]

    # The memory backend's server stores into no Redis; the Redis backend's does.
    assert memory.server_cpu_us > 0 and memory.redis_cpu_us == 0
    assert redis.server_cpu_us > 0 and redis.redis_cpu_us > 0


def test_the_cpu_note_names_both_processes(get_file_rounds: service.Rounds) -> None:
    notes = " ".join(service.redis_get_file(TINY, get_file_rounds).notes)

    assert "redis-server" in notes and f"CPU {procs.SERVER_CPU}" in notes
    redis = get_file_rounds[service.REDIS][0]
    assert f"redis-server {redis.redis_cpu_us:,.0f} µs" in notes


def test_alternate_many_rotates_the_order_each_round() -> None:
    calls: list[str] = []

    def side(name: str) -> str:
        calls.append(name)
        return name + str(len(calls))

    runs = alternate_many(
        3, {"a": lambda: side("a"), "b": lambda: side("b"), "c": lambda: side("c")}
    )
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert runs == {"a": ["a1", "a6", "a8"], "b": ["b2", "b4", "b9"], "c": ["c3", "c5", "c7"]}


def test_alternate_flips_the_order_each_round() -> None:
    calls: list[str] = []

    def side(name: str, value: float) -> float:
        calls.append(name)
        return value

    medians = alternate(3, lambda: side("a", 1.0), lambda: side("b", 2.0))
    assert medians == (1.0, 2.0)
    assert calls == ["a", "b", "b", "a", "a", "b"]


def test_a_server_that_never_starts_is_reported() -> None:
    with (
        pytest.raises(ServerStartError, match="exited before starting"),
        procs.contextstore_server("--workers", "0"),
    ):
        pass


def test_batches_come_from_h2load_pinned_to_the_load_cpu(protoset: Path) -> None:
    # ghz decoding 100 KiB answers was the bottleneck on a slower CPU, not the server.
    load = service._batch_load(TINY, protoset)
    assert load.h2load and load.concurrency == service.REDIS_CLIENTS
    assert "h2load" in service.BATCH_HOW


def test_a_batch_that_reads_nothing_counts_as_unserved(
    protoset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing preloaded: every path misses, HTTP 200 all the same; the hit counter tells.
    monkeypatch.setattr(service, "preload_files", lambda *args: None)
    load = service._batch_load(TINY, protoset)

    failed = re.escape("BatchGetFiles load failed: {'unserved': 200}")
    with pytest.raises(RuntimeError, match=failed):
        service.server_rate(load)
