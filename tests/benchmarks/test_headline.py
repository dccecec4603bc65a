"""Figures F1-F3 and the h2load runs behind F1: what they report, and that they prove
every call served. Values are read from ``make bench``, never asserted here."""

from __future__ import annotations

import pytest

from benchmarks import floor, headline, procs, service
from benchmarks.service import FLOOR, H2_FLOOR, H2_MEMORY, MEMORY, PLAIN, Rate

TINY = service.ServiceScale(rounds=1, h2load_calls=500, sequential_calls=50, sequential_rounds=1)

H2LOAD_OUTPUT = """\
finished in 629.22ms, 3178.52 req/s, 3.53MB/s
requests: 2000 total, 2000 started, 2000 done, 1999 succeeded, 1 failed, 0 errored, 0 timeout
status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 2.22MB (2326499) total, 6.45KB (6600) headers (space savings 95.93%), 2.11MB (2214000) data
"""


def _calls(per_second: float) -> list[Rate]:
    return [Rate(per_second, server_cpu_us=100.0)]


@pytest.mark.parametrize(
    ("pinned", "unpinned", "shown", "met"),
    [
        ((950, 1000), (850, 1000), (850, 1000), False),  # h2load's ratio is the lower
        ((800, 1000), (990, 1000), (800, 1000), False),  # ghz's ratio is the lower
        ((950, 1000), (920, 1000), (920, 1000), True),  # both meet the target
    ],
)
def test_f1_shows_the_lower_ratio_and_is_met_only_when_both_are(
    pinned: tuple[int, int], unpinned: tuple[int, int], shown: tuple[int, int], met: bool
) -> None:
    rounds = {
        MEMORY: _calls(pinned[0]),
        FLOOR: _calls(pinned[1]),
        H2_MEMORY: _calls(unpinned[0]),
        H2_FLOOR: _calls(unpinned[1]),
    }
    figure = headline.floor_get_file(TINY, rounds)

    assert (figure.key, figure.met) == ("F1", met)
    assert (figure.numerator.value, figure.denominator.value) == shown
    assert f"{pinned[0] / pinned[1]:.3g}" in figure.notes[0]
    assert f"{unpinned[0] / unpinned[1]:.3g}" in figure.notes[0]


def test_f2_divides_our_files_per_second_by_todays() -> None:
    figure = headline.batch_vs_today({MEMORY: _calls(30), PLAIN: _calls(20)})

    assert (figure.numerator.value, figure.denominator.value) == (3000, 2000)
    assert (figure.ratio, figure.met) == (1.5, True)


def test_f3_divides_median_p50s_not_rates() -> None:
    ours = [Rate(1000, 1.0, p50_us=p) for p in (110.0, 300.0, 105.0)]
    floor_runs = [Rate(9000, 1.0, p50_us=p) for p in (100.0, 99.0, 500.0)]
    figure = headline.sequential_latency(TINY, {MEMORY: ours, FLOOR: floor_runs})

    assert (figure.numerator.value, figure.denominator.value) == (110.0, 100.0)
    assert figure.target.met_by(figure.ratio) and figure.met


def test_h2load_output_is_read_for_rate_successes_and_data_bytes() -> None:
    assert procs.parse_h2load(H2LOAD_OUTPUT) == procs.H2loadResult(3178.52, 1999, 2214000)
    with pytest.raises(RuntimeError, match="no summary"):
        procs.parse_h2load("connect failed\n")


def test_ghz_p50_is_read_in_microseconds() -> None:
    report = {"latencyDistribution": [{"percentage": 10, "latency": 1}, {"percentage": 50,
              "latency": 412_345}]}  # fmt: skip
    assert procs._p50_us(report) == 412.345


@pytest.mark.parametrize("ours", [True, False], ids=["ours", "floor"])
def test_h2load_drives_both_servers_over_grpc(ours: bool) -> None:
    run = service.h2load_rate(TINY.h2load_calls, ours=ours)

    assert run.per_second > 0 and run.server_cpu_us > 0


def test_h2load_on_ours_counts_a_not_found_answer_as_unserved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing preloaded: every GetFile is NOT_FOUND in trailers after an HTTP 200.
    monkeypatch.setattr(service, "preload_files", lambda *args: None)

    with pytest.raises(RuntimeError, match="500 answered, 0 served"):
        service.h2load_rate(TINY.h2load_calls, ours=True)


def test_h2load_on_the_floor_counts_an_answer_without_its_bytes_as_unserved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The floor answers any other method UNIMPLEMENTED: HTTP 200, trailers, no data.
    monkeypatch.setattr(service, "GET_FILE", "contextstore.v1.ContextStoreService/GetMetadata")

    with pytest.raises(RuntimeError, match="500 answered, 0 served"):
        service.h2load_rate(TINY.h2load_calls, ours=False)


def test_sequential_rounds_report_a_p50_for_ours_and_the_floor(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    protoset = procs.protoset(tmp_path_factory.mktemp("protoset") / "cs.protoset")
    rounds = service.sequential_rounds(TINY, protoset=protoset)
    figure = headline.sequential_latency(TINY, rounds)

    assert figure.numerator.value > 0 and figure.denominator.value > 0
    assert [len(rounds[MEMORY]), len(rounds[FLOOR])] == [1, 1]


def test_the_floors_answer_frames_to_what_h2load_counts() -> None:
    framed = procs.grpc_frame(floor.response_bytes())
    assert framed[:5] == b"\0" + len(floor.response_bytes()).to_bytes(4, "big")
    assert service._floor_answers(procs.H2loadResult(1.0, 3, 3 * len(framed))) == 3
    assert service._floor_answers(procs.H2loadResult(1.0, 3, 3 * len(framed) - 1)) == -1
