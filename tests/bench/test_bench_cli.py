"""``contextstore bench`` settings: defaults, a scenario file, flags overriding it."""

from __future__ import annotations

from pathlib import Path

import pytest

from contextstore.bench.cli import main, settings, to_config


def _scenario(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return str(path)


def test_scenario_file_sets_and_flags_override(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        'target = "10.0.0.1:1"\nprocs = 3\nconcurrency = 48\nrate = 500.0\n'
        'payload-bytes = "512-4KiB"\npreload = false\ndistribution = "zipf"\n'
        "[mix]\nget = 9\ncache = 1\n",
    )

    config = to_config(settings(["--scenario", scenario, "--procs", "2", "--mix", "get=1"]))

    assert config.target == "10.0.0.1:1"
    assert config.procs == 2  # the flag wins
    assert config.connections == 2  # one per process unless given
    assert config.concurrency == 48
    assert config.rate == 500.0
    assert config.preload is False
    assert config.workload.mix == {"get": 1.0}  # the flag wins over the [mix] table
    assert config.workload.payload_bytes == (512, 4096)
    assert config.workload.distribution == "zipf"


def test_scenario_mix_table_and_defaults(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "[mix]\nget = 9\nanalysis_put = 1\n")

    config = to_config(settings(["--scenario", scenario]))

    assert config.workload.mix == {"get": 9.0, "analysis_put": 1.0}
    assert (config.target, config.procs, config.concurrency, config.duration) == (None, 1, 16, 10)
    assert config.open_loop is False


@pytest.mark.parametrize(
    ("scenario", "flags", "message"),
    [
        ("procs = 2\nspeed = 3\n", [], "unknown setting"),
        ("", ["--rate", "10", "--schedule", "ramp:1:2"], "not both"),
        ("", ["--sweep", "--rate", "10"], "sweep"),
        ("", ["--schedule", "zigzag"], "schedule"),
        ("", ["--mix", "get=1,fetch=2"], "unknown operation"),
        ("mix = [", [], "scenario.toml"),
    ],
)
def test_bad_settings_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario: str, flags: list[str],
    message: str,
) -> None:  # fmt: skip
    path = _scenario(tmp_path, scenario)

    status = main(["--scenario", path, *flags])

    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("contextstore bench: ")
    assert message in err


def test_the_example_scenario_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "bench" / "agents.toml"
    config = to_config(settings(["--scenario", str(example)]))
    assert config.procs == 2 and config.workload.sessions == 32
    assert config.workload.distribution == "zipf"
    assert set(config.workload.mix) >= {"get", "cache", "analysis_put", "clear", "batch_get"}
