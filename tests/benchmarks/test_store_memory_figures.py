"""Quick variants of the store and memory figures: well-formed, positive values.

The targets are the full suite's business; these only check the machinery.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from benchmarks import memory, procs, store
from benchmarks.figures import Figure
from contextstore.server.store.memory import StripedStore

QUICK = store.MixedLoad(paths=20, ops_per_thread=300)


def well_formed(figure: Figure, key: str) -> None:
    assert figure.key == key and figure.title and figure.notes
    assert figure.numerator.value > 0 and figure.denominator.value > 0
    assert figure.numerator.unit and figure.denominator.unit and figure.ratio > 0


def test_clear_cost() -> None:
    well_formed(store.clear_cost(small=200, large=2000, clears=20), "3")


def test_striping() -> None:
    well_formed(store.striping(load=QUICK, threads=4, rounds=2), "4a")


def test_store_rate() -> None:
    measure = store.store_rate(load=QUICK, rounds=1)
    assert measure.value > 0 and measure.unit == "ops/s"


def test_the_store_side_runs_where_the_floor_runs_and_the_process_goes_back() -> None:
    before = os.sched_getaffinity(0)
    seen: list[set[int]] = []
    with procs.on_cpu(procs.SERVER_CPU):
        worker = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
        worker.start()
        worker.join()
        assert os.sched_getaffinity(0) == {int(procs.SERVER_CPU)}
    assert seen == [{int(procs.SERVER_CPU)}]  # threads it starts inherit the CPU
    assert os.sched_getaffinity(0) == before


def test_the_workload_is_drawn_before_the_clock_starts() -> None:
    ops = store._plan_ops(QUICK, seed=1)
    assert ops == store._plan_ops(QUICK, seed=1) and len(ops) == QUICK.ops_per_thread
    assert store._mixed_ops(StripedStore(stripes=2), ops) == QUICK.ops_per_thread


def test_entry_overhead() -> None:
    well_formed(memory.entry_overhead(files=20_000), "5a")


def test_flood_peak(tmp_path: Path) -> None:
    quick = memory.Flood(payload_bytes=1024, budget_bytes=1 << 20, overwrite=2.0)
    figure = memory.flood_peak(main=quick, small=quick, protoset=procs.protoset(tmp_path / "p"))
    well_formed(figure, "5b")
