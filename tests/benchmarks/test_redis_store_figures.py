"""Figures R3 and R4 at a small scale: the machinery works, the values are sane.

Whether they meet their targets is read from ``make bench``.
"""

from __future__ import annotations

from benchmarks import redis_store
from benchmarks.figures import Figure


def well_formed(figure: Figure, key: str) -> None:
    assert figure.key == key and figure.title and figure.notes
    assert figure.numerator.value > 0 and figure.denominator.value > 0
    assert figure.numerator.unit == figure.denominator.unit
    assert figure.target.op == "<=" and figure.target.bound == 1.5
    assert figure.met == figure.target.met_by(figure.ratio)


def test_the_filler_is_whole_entries_of_the_store() -> None:
    with redis_store.redis_store() as (store, server):
        redis_store.fill(store, server, 500, per_session=100)

        stats = store.store_stats()
        assert (stats.files, stats.sessions) == (500, 5)
        # A copied session reads, counts and clears like one the backend wrote.
        copied = store.get_file("filler-3", "src/pkg/module_7.py")
        assert copied is not None and copied.content == redis_store.FILLER
        assert store.stats("filler-3").files == 100
        assert store.clear_session("filler-3").files == 100
        assert store.store_stats().files == 400


def test_clear_cost() -> None:
    figure = redis_store.clear_cost(small=100, large=1000, clears=10)

    well_formed(figure, "R3")
    assert "1,000 other entries" in figure.numerator.what
    assert "100 other entries" in figure.denominator.what


def test_memory_per_file() -> None:
    figure = redis_store.memory_per_file(files=1000, per_session=100)

    well_formed(figure, "R4")
    # Every file costs Redis at least its content, on either side.
    assert figure.numerator.value > redis_store.CONTENT_BYTES
    assert figure.denominator.value > redis_store.CONTENT_BYTES
