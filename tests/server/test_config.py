"""``config.parse``: flags beat ``CONTEXTSTORE_*`` beat defaults; sizes; validation."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from contextstore.server.config import ServerConfig, parse
from contextstore.units import GiB, KiB, MiB

FIELDS = {f.name: f for f in dataclasses.fields(ServerConfig)}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _env(name: str) -> str:
    return "CONTEXTSTORE_" + name.upper()


# Two valid, distinct, non-default spellings per field, and what each parses to.
SAMPLES: dict[str, tuple[tuple[str, Any], tuple[str, Any]]] = {
    "listen": (("0.0.0.0:7001", "0.0.0.0:7001"), ("[::1]:7002", "[::1]:7002")),
    "stripes": (("3", 3), ("5", 5)),
    "workers": (("3", 3), ("5", 5)),
    "max_concurrent_rpcs": (("3", 3), ("5", 5)),
    "max_inflight_response_bytes": (("1MiB", 1 << 20), ("4096", 4096)),
    "receive_timeout_seconds": (("250ms", 0.25), ("2", 2.0)),
    "grace_seconds": (("2.5", 2.5), ("0", 0.0)),
    "max_content_bytes": (("3KiB", 3 * KiB), ("5MiB", 5 * MiB)),
    "max_batch_items": (("3", 3), ("5", 5)),
    "max_labels": (("3", 3), ("5", 5)),
    "max_label_key_bytes": (("3", 3), ("5KiB", 5 * KiB)),
    "max_label_value_bytes": (("3KiB", 3 * KiB), ("5", 5)),
    "total_bytes": (("2GiB", 2 * GiB), ("0", 0)),
    "session_bytes": (("3MiB", 3 * MiB), ("5", 5)),
    "session_entries": (("3", 3), ("5", 5)),
    "session_ttl_seconds": (("1.5", 1.5), ("0", 0.0)),
    "sweep_seconds": (("0.25", 0.25), ("9", 9.0)),
    "log_level": (("DEBUG", "DEBUG"), ("warning", "warning")),
}


def test_every_field_has_samples() -> None:
    # "backend" has a single valid value; it is covered by its own tests.
    assert set(SAMPLES) == set(FIELDS) - {"backend"}


def test_defaults_without_flags_or_environment() -> None:
    parsed = parse([], {})

    assert parsed == ServerConfig()
    assert parsed.listen == "127.0.0.1:50051"
    assert parsed.backend == "memory"
    assert parsed.max_content_bytes == 16 * MiB
    assert parsed.max_batch_items == 1000
    assert parsed.total_bytes == 1 * GiB
    assert parsed.grace_seconds == 5.0
    assert parsed.log_level == "INFO"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_environment_beats_default(name: str) -> None:
    (text, value), _ = SAMPLES[name]

    parsed = parse([], {_env(name): text})

    assert getattr(parsed, name) == value
    assert getattr(parsed, name) != FIELDS[name].default


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_flag_beats_default(name: str) -> None:
    (text, value), _ = SAMPLES[name]

    assert getattr(parse([_flag(name), text], {}), name) == value


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_flag_beats_environment(name: str) -> None:
    (env_text, _), (flag_text, flag_value) = SAMPLES[name]

    parsed = parse([_flag(name), flag_text], {_env(name): env_text})

    assert getattr(parsed, name) == flag_value


def test_flags_and_environment_mix_field_by_field() -> None:
    parsed = parse(
        ["--workers", "4"],
        {"CONTEXTSTORE_WORKERS": "8", "CONTEXTSTORE_STRIPES": "2", "OTHER_STRIPES": "99"},
    )

    assert parsed.workers == 4
    assert parsed.stripes == 2
    assert parsed.max_batch_items == 1000


def test_environment_names_are_exact() -> None:
    parsed = parse([], {"contextstore_workers": "3", "CONTEXTSTORE_WORKER": "3", "WORKERS": "3"})

    assert parsed.workers == ServerConfig().workers


def test_size_suffixes_through_flags_and_environment() -> None:
    parsed = parse(["--max-content-bytes", "16MiB"], {"CONTEXTSTORE_TOTAL_BYTES": "2GiB"})

    assert parsed.max_content_bytes == 16 * MiB
    assert parsed.total_bytes == 2 * GiB


def test_bad_size_in_environment_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"CONTEXTSTORE_MAX_CONTENT_BYTES='16MB'"):
        parse([], {"CONTEXTSTORE_MAX_CONTENT_BYTES": "16MB"})


@pytest.mark.parametrize(
    ("name", "text"),
    [("workers", "many"), ("workers", "1.5"), ("grace_seconds", "soon"), ("stripes", "")],
)
def test_bad_number_in_environment_names_the_variable(name: str, text: str) -> None:
    with pytest.raises(ValueError, match=_env(name)):
        parse([], {_env(name): text})


def test_bad_flag_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--max-content-bytes", "16MB"], {})

    assert exit_info.value.code == 2
    assert "--max-content-bytes" in capsys.readouterr().err


def test_unknown_flag_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--max-widgets", "3"], {})

    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    "name", ["workers", "stripes", "max_labels", "session_entries", "max_concurrent_rpcs"]
)
def test_negative_int_flag_rejected(name: str) -> None:
    with pytest.raises(ValueError, match=f"{_flag(name)} / {_env(name)} must be at least "):
        parse([_flag(name), "-1"], {})


@pytest.mark.parametrize("name", ["grace_seconds", "session_ttl_seconds", "sweep_seconds"])
def test_negative_seconds_rejected(name: str) -> None:
    with pytest.raises(ValueError, match=f"{_env(name)} must be at least 0, got -0.5"):
        parse([], {_env(name): "-0.5"})


def test_negative_size_rejected_from_environment() -> None:
    with pytest.raises(ValueError, match="CONTEXTSTORE_SESSION_BYTES"):
        parse([], {"CONTEXTSTORE_SESSION_BYTES": "-5"})


def test_negative_value_rejected_by_the_dataclass_itself() -> None:
    with pytest.raises(
        ValueError, match="--total-bytes / CONTEXTSTORE_TOTAL_BYTES must be at least 0, got -1"
    ):
        ServerConfig(total_bytes=-1)


@pytest.mark.parametrize(
    "name",
    ["workers", "stripes", "max_concurrent_rpcs", "max_batch_items", "max_inflight_response_bytes"],
)
def test_zero_rejected_where_at_least_one_is_needed(name: str) -> None:
    with pytest.raises(ValueError, match=f"{_env(name)} must be at least 1, got 0"):
        parse([_flag(name), "0"], {})


@pytest.mark.parametrize("name", ["total_bytes", "session_bytes", "session_entries"])
def test_zero_budget_means_none_and_is_accepted(name: str) -> None:
    assert getattr(parse([_flag(name), "0"], {}), name) == 0


def test_unknown_backend_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"CONTEXTSTORE_BACKEND: unknown backend 'redis' \(available: memory\)"
    ):
        parse(["--backend", "redis"], {})
    with pytest.raises(ValueError, match="unknown backend 'disk'"):
        parse([], {"CONTEXTSTORE_BACKEND": "disk"})


def test_memory_backend_accepted_from_either_source() -> None:
    assert parse(["--backend", "memory"], {"CONTEXTSTORE_BACKEND": "redis"}).backend == "memory"
    assert parse([], {"CONTEXTSTORE_BACKEND": "memory"}).backend == "memory"


@pytest.mark.parametrize("content", [0, 1, 4096, 16 * MiB, 64 * MiB])
def test_max_message_bytes_is_content_plus_one_mib(content: int) -> None:
    parsed = parse(["--max-content-bytes", str(content)], {})

    assert parsed.max_message_bytes == content + MiB


def test_default_max_message_bytes_is_17_mib() -> None:
    assert parse([], {}).max_message_bytes == 17 * MiB


def test_budgets_carry_the_configured_values() -> None:
    parsed = parse(
        ["--total-bytes", "1MiB", "--session-bytes", "2KiB"],
        {"CONTEXTSTORE_SESSION_ENTRIES": "9", "CONTEXTSTORE_SESSION_TTL_SECONDS": "30"},
    )

    budgets = parsed.budgets
    assert budgets.total_bytes == MiB
    assert budgets.session_bytes == 2 * KiB
    assert budgets.session_entries == 9
    assert budgets.session_ttl_seconds == 30.0


def test_config_is_frozen() -> None:
    parsed = parse([], {})

    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.workers = 1  # type: ignore[misc]


def test_help_lists_every_flag_with_its_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--help"], {})

    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps long lines
    for name in FIELDS:
        assert _flag(name) in text
        assert _env(name) in text
