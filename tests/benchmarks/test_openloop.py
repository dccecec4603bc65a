"""The validity rule of latency figures: a generator that fell behind makes a figure missed.

ghz's per-call records are built here as ghz writes them (end timestamp in
RFC 3339 with nanoseconds, latency in ns), so the parsing and the rule run on
the data the suite reads; nothing is timed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ghz_details import START_NS, ghz_detail

from benchmarks import latency, openloop, report
from benchmarks.openloop import OpenLoop, Sends

RATE = 1000.0
SECONDS = 2.0


def on_schedule(calls: int, *, latency_ns: int = 500_000) -> list[dict[str, Any]]:
    return [ghz_detail(START_NS + int(i * 1e9 / RATE), latency_ns) for i in range(calls)]


def parse(details: list[dict[str, Any]], *, cpu_seconds: float = 0.5) -> OpenLoop:
    return openloop.from_details(
        details, rate=RATE, warmup=0.0, seconds=SECONDS, cpu_seconds=cpu_seconds
    )


def test_a_generator_on_schedule_is_valid_and_latency_is_its_own() -> None:
    run = parse(on_schedule(int(RATE * SECONDS)))

    assert run.sends.sent == run.sends.intended == run.sends.on_time == 2000
    assert run.sends.worst_lag_ns == 0
    assert run.p50 == run.p99 == 500.0
    assert openloop.schedule_problem(run.sends) is None


def test_slow_answers_sent_on_time_are_the_servers_latency_not_the_generators_lag() -> None:
    # ghz stamps calls with their end: every 10th call answered in 30 ms was
    # still sent on time, so the run is valid and the 30 ms are latency.
    details = [
        ghz_detail(START_NS + int(i * 1e9 / RATE), 30_000_000 if i % 10 == 5 else 500_000)
        for i in range(2000)
    ]

    run = parse(details)

    assert run.sends.on_time == 2000 and run.sends.worst_lag_ns == 0
    assert run.p50 == 500.0 and run.p99 == 30_000.0
    assert openloop.schedule_problem(run.sends) is None


def test_a_stalled_generator_is_late_and_its_stall_counts_in_latency() -> None:
    # From call 1000 on, each call goes out 20 ms after its time (the generator
    # stalled once and never caught up): 1000 of 2000 calls are late.
    details = on_schedule(1000) + [
        ghz_detail(START_NS + int(i * 1e9 / RATE) + 20_000_000, 500_000) for i in range(1000, 2000)
    ]

    run = parse(details)

    assert run.sends.on_time == 1000 and run.sends.worst_lag_ns == 20_000_000
    assert run.p99 == pytest.approx(20_500.0)  # measured from the intended send time
    problem = openloop.schedule_problem(run.sends)
    assert problem is not None and "fell behind its schedule" in problem


def test_a_generator_short_of_its_rate_is_invalid() -> None:
    # It sent one call in two: 1000 calls in the window instead of 2000.
    details = [ghz_detail(START_NS + int(i * 2e9 / RATE), 500_000) for i in range(1000)]

    problem = openloop.schedule_problem(parse(details).sends)

    assert problem is not None and "sent 1,000 calls of 2,000 intended" in problem


def test_a_generator_without_headroom_is_invalid() -> None:
    # On schedule, but 2000 calls cost it 1.9 s of CPU: capacity 1,053 calls/s at 1,000.
    run = parse(on_schedule(2000), cpu_seconds=1.9)

    problem = openloop.schedule_problem(run.sends)

    assert problem is not None and "no headroom" in problem


def sends(*, on_time: int = 2000, sent: int = 2000) -> Sends:
    return Sends(RATE, SECONDS, sent, on_time, 2000, 0 if on_time == 2000 else 9_000_000,
                 calls=2000, cpu_seconds=0.5)  # fmt: skip


def run_of(p50: float, p99: float, s: Sends) -> OpenLoop:
    return OpenLoop(s, p50, p99, p999=p99, max=p99, errors={})


SCALE = latency.LatencyScale(rounds=1)


@pytest.mark.parametrize(("p99", "met"), [(2000.0, True), (6000.0, False)])
def test_a_figure_whose_generator_kept_its_schedule_is_judged_on_its_ratio(
    p99: float, met: bool
) -> None:
    figure = latency.figure(
        latency.Maxima(4000.0, 4100.0), light=[run_of(1000.0, 3000.0, sends())],
        heavy=[run_of(900.0, p99, sends())], scale=SCALE,
    )  # fmt: skip

    assert figure.invalid is None
    assert figure.ratio == p99 / 1000.0  # p99 at 70% over p50 at 10%
    assert figure.met is met


def test_a_figure_whose_generator_fell_behind_is_missed_with_its_reason() -> None:
    late = sends(on_time=1500)
    figure = latency.figure(
        latency.Maxima(4000.0, 4100.0), light=[run_of(1000.0, 3000.0, sends())],
        heavy=[run_of(900.0, 2000.0, late)], scale=SCALE,
    )  # fmt: skip

    assert figure.target.met_by(figure.ratio)  # the ratio alone would pass ...
    assert not figure.met  # ... but the figure is missed
    assert figure.invalid is not None and figure.invalid.startswith("70% run 1: ")
    assert "500 of 2,000 calls sent more than 1 ms late" in figure.invalid
    text = report.markdown([figure], command="test")
    assert "| 2 | `<= 5` | **missed** (invalid) |" in text
    assert f"- **6.** Invalid: {figure.invalid}." in text


def test_a_rate_under_one_call_per_second_is_refused_not_sent_unlimited(tmp_path: Path) -> None:
    # ghz reads --rps 0 as no limit: a closed loop measured as if it were open.
    with pytest.raises(ValueError, match="at least 1 call/s"):
        openloop.ghz_open_loop("127.0.0.1:1", rate=0.4, seconds=1.0, warmup=0.0,
                               protoset=tmp_path / "p", data=tmp_path / "d")  # fmt: skip


def test_a_figure_whose_maximum_moved_under_it_is_missed_with_its_reason() -> None:
    # Measured at 2,000 calls/s, then 4,000: the "70%" runs were at 35% of the real maximum.
    figure = latency.figure(
        latency.Maxima(2000.0, 4000.0), light=[run_of(1000.0, 3000.0, sends())],
        heavy=[run_of(900.0, 2000.0, sends())], scale=SCALE,
    )  # fmt: skip

    assert figure.target.met_by(figure.ratio) and not figure.met
    assert figure.invalid == (
        "the maximum rate moved from 2,000 to 4,000 calls/s over the run (more than ±15%): "
        "the load was not 70% of it"
    )
