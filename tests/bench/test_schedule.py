"""Open-loop schedules: parsing, the rate over time, and exact intended send times."""

from __future__ import annotations

import pytest

from contextstore.bench.schedule import parse_schedule, prepend_warmup


def test_const_sends_evenly_spaced_calls() -> None:
    schedule = parse_schedule("const:100", 2.0)

    times = list(schedule.intended_times())

    assert len(times) == schedule.total_calls == 200
    assert times[:3] == pytest.approx([0.0, 0.01, 0.02])
    assert schedule.rate_at(1.5) == 100


def test_ramp_rate_grows_linearly_and_sends_its_integral() -> None:
    schedule = parse_schedule("ramp:100:300", 2.0)

    times = list(schedule.intended_times())

    assert schedule.rate_at(0) == 100
    assert schedule.rate_at(1.0) == pytest.approx(200)
    assert len(times) == 400  # (100 + 300) / 2 calls/s over 2 s
    first_half = sum(1 for t in times if t < 1.0)
    assert first_half == 150  # integral of the rate over [0, 1): 100 + 100/2
    assert times == sorted(times)


def test_ramp_from_zero_starts_at_time_zero() -> None:
    times = list(parse_schedule("ramp:0:100", 2.0).intended_times())

    assert times[0] == 0.0
    assert len(times) == 100
    assert times[-1] < 2.0


def test_steps_split_the_duration_equally() -> None:
    schedule = parse_schedule("step:10,20,40", 3.0)

    times = list(schedule.intended_times())

    assert [schedule.rate_at(t) for t in (0.5, 1.5, 2.5)] == [10, 20, 40]
    counts = [sum(1 for t in times if k <= t < k + 1) for k in range(3)]
    assert counts == [10, 20, 40]


def test_workers_share_the_calls_exactly_once_interleaved() -> None:
    schedule = parse_schedule("ramp:50:500", 1.0)
    everything = list(schedule.intended_times())

    parts = [list(schedule.intended_times(first=i, every=3)) for i in range(3)]

    assert sorted(t for part in parts for t in part) == everything
    assert parts[1][0] == everything[1]


def test_warmup_is_prepended_at_the_initial_rate() -> None:
    schedule = prepend_warmup(parse_schedule("step:100,200", 2.0), 0.5)

    assert schedule.duration == 2.5
    assert schedule.rate_at(0.2) == 100
    assert schedule.rate_at(2.0) == 200
    assert schedule.total_calls == 50 + 100 + 200


@pytest.mark.parametrize(
    "spec", ["", "const:", "const:-1", "ramp:5", "step:", "wave:1:2", "const:0", "const:nan"]
)
def test_bad_schedules_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(spec, 1.0)
