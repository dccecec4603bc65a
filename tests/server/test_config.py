"""``config.parse``: flags beat ``CONTEXTSTORE_*`` beat defaults; units; validation; --help."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from contextstore.server import __version__
from contextstore.server.config import MAX_CONTENT_BYTES, ServerConfig, parse
from contextstore.units import MAX_SECONDS, GiB, KiB, MiB

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
    "max_inflight_response_bytes": (("1MiB", 1 << 20), ("64MB", 64_000_000)),
    "receive_timeout_seconds": (("250ms", 0.25), ("90s", 90.0)),
    "grace_seconds": (("2.5", 2.5), ("0", 0.0)),
    "max_watchers": (("8", 8), ("200", 200)),
    "watch_progress_seconds": (("250ms", 0.25), ("10", 10.0)),
    "watch_history_revisions": (("10", 10), ("5000", 5000)),
    "watch_history_events": (("1000", 1000), ("2000000", 2_000_000)),
    "watch_history_seconds": (("10m", 600.0), ("0", 0.0)),
    "watch_max_stream_seconds": (("30m", 1800.0), ("0", 0.0)),
    "share_min_bytes": (("4KiB", 4096), ("0", 0)),
    "max_content_bytes": (("3KiB", 3 * KiB), ("5mib", 5 * MiB)),
    "max_batch_items": (("3", 3), ("5", 5)),
    "max_labels": (("3", 3), ("5", 5)),
    "max_label_key_bytes": (("3", 3), ("5KiB", 5 * KiB)),
    "max_label_value_bytes": (("3KiB", 3 * KiB), ("5", 5)),
    "total_bytes": (("1.5GiB", 3 * GiB // 2), ("0", 0)),
    "session_bytes": (("3M", 3 * MiB), ("16MB", 16_000_000)),
    "session_entries": (("3", 3), ("5", 5)),
    "session_ttl_seconds": (("15m", 900.0), ("0", 0.0)),
    "sweep_seconds": (("0.25", 0.25), ("1h", 3600.0)),
    "log_level": (("DEBUG", "DEBUG"), ("warning", "WARNING")),
    "redis_url": (
        ("redis://10.0.0.7:6380/2", "redis://10.0.0.7:6380/2"),
        ("rediss://agent:secret@cache:6379", "rediss://agent:secret@cache:6379"),
    ),
    "redis_key_prefix": (("team-a:", "team-a:"), ("", "")),
    "redis_timeout_seconds": (("250ms", 0.25), ("3", 3.0)),
    "backend": (("redis", "redis"), ("redis", "redis")),
    "log_format": (("json", "json"), ("TEXT", "text")),
    "access_log": (("on", True), ("1", True)),
    "tracing": (("yes", True), ("true", True)),
    "tls_cert": (("server.pem", "server.pem"), ("/etc/cs/cert.pem", "/etc/cs/cert.pem")),
    "tls_key": (("server-key.pem", "server-key.pem"), ("/etc/cs/key.pem", "/etc/cs/key.pem")),
    "tls_client_ca": (("ca.pem", "ca.pem"), ("/etc/cs/ca.pem", "/etc/cs/ca.pem")),
    "auth_tokens": (("tokens.toml", "tokens.toml"), ("/etc/cs/tokens.toml", "/etc/cs/tokens.toml")),
    "metrics_listen": (("127.0.0.1:9464", "127.0.0.1:9464"), ("0.0.0.0:9000", "0.0.0.0:9000")),
}

# What a setting cannot be given without (the environment supplies it in the tests below).
COMPANIONS: dict[str, dict[str, str]] = {
    "tls_cert": {_env("tls_key"): "k.pem"},
    "tls_key": {_env("tls_cert"): "c.pem"},
    "tls_client_ca": {_env("tls_cert"): "c.pem", _env("tls_key"): "k.pem"},
}


def test_every_field_has_samples() -> None:
    assert set(SAMPLES) == set(FIELDS)


def test_tls_settings_go_together() -> None:
    with pytest.raises(ValueError, match="give both"):
        parse(["--tls-cert", "c.pem"], {})
    with pytest.raises(ValueError, match="needs TLS"):
        parse(["--tls-client-ca", "ca.pem"], {})


def test_a_switch_alone_turns_on_and_takes_off() -> None:
    assert parse(["--access-log"], {}).access_log is True
    assert parse(["--access-log=off"], {"CONTEXTSTORE_ACCESS_LOG": "1"}).access_log is False
    with pytest.raises(ValueError, match="maybe"):
        parse([], {"CONTEXTSTORE_TRACING": "maybe"})


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (["--redis-url", "http://cache:6379"], "must start with redis://, rediss://, unix://"),
        (["--redis-key-prefix", "a{b}:"], "must not contain { or }"),
        (["--redis-timeout-seconds", "0"], "must be more than 0"),
    ],
)
def test_redis_settings_that_cannot_work_are_refused(setting: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse(setting, {})


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

    parsed = parse([], {**COMPANIONS.get(name, {}), _env(name): text})

    assert getattr(parsed, name) == value
    assert getattr(parsed, name) != FIELDS[name].default


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_flag_beats_default(name: str) -> None:
    (text, value), _ = SAMPLES[name]

    assert getattr(parse([_flag(name), text], COMPANIONS.get(name, {})), name) == value


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_flag_beats_environment(name: str) -> None:
    (env_text, _), (flag_text, flag_value) = SAMPLES[name]

    parsed = parse([_flag(name), flag_text], {**COMPANIONS.get(name, {}), _env(name): env_text})

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
    with pytest.raises(ValueError, match=r"CONTEXTSTORE_MAX_CONTENT_BYTES='16XB': not a size"):
        parse([], {"CONTEXTSTORE_MAX_CONTENT_BYTES": "16XB"})


@pytest.mark.parametrize(
    ("name", "text"),
    [("workers", "many"), ("workers", "1.5"), ("grace_seconds", "soon"), ("stripes", "")],
)
def test_bad_number_in_environment_names_the_variable(name: str, text: str) -> None:
    with pytest.raises(ValueError, match=_env(name)):
        parse([], {_env(name): text})


def test_bad_flag_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--max-content-bytes", "16XB"], {})

    assert exit_info.value.code == 2
    assert "argument --max-content-bytes: not a size: '16XB'" in capsys.readouterr().err


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
    with pytest.raises(ValueError, match=f"{_env(name)} must be at least 0, got -500ms"):
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


def test_unknown_backend_flag_is_a_usage_error_listing_the_backends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--backend", "disk"], {})

    assert exit_info.value.code == 2
    assert "argument --backend: invalid choice: 'disk' (choose from 'memory', 'redis')" in (
        capsys.readouterr().err
    )


def test_unknown_backend_in_environment_names_the_variable_and_the_backends() -> None:
    with pytest.raises(
        ValueError, match=r"CONTEXTSTORE_BACKEND: 'disk' is not one of memory, redis$"
    ):
        parse([], {"CONTEXTSTORE_BACKEND": "disk"})
    with pytest.raises(ValueError, match="'disk' is not one of memory, redis"):
        ServerConfig(backend="disk")


def test_memory_backend_accepted_from_either_source() -> None:
    assert parse(["--backend", "memory"], {"CONTEXTSTORE_BACKEND": "redis"}).backend == "memory"
    assert parse([], {"CONTEXTSTORE_BACKEND": "redis"}).backend == "redis"
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


# -- listen --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:0", "127.0.0.1:0"),
        ("127.0.0.1:65535", "127.0.0.1:65535"),
        ("localhost:7001", "localhost:7001"),
        ("127.0.0.1", "127.0.0.1:50051"),  # as clients assume, not gRPC's 443
        ("0.0.0.0", "0.0.0.0:50051"),
        ("[::1]", "[::1]:50051"),
        ("[::]:7001", "[::]:7001"),
        ("unix:/run/contextstore.sock", "unix:/run/contextstore.sock"),
        ("unix:///run/contextstore.sock", "unix:///run/contextstore.sock"),
        ("unix-abstract:contextstore", "unix-abstract:contextstore"),
    ],
)
def test_listen_forms(text: str, expected: str) -> None:
    assert parse(["--listen", text], {}).listen == expected
    assert parse([], {"CONTEXTSTORE_LISTEN": text}).listen == expected
    assert ServerConfig(listen=text).listen == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1:99999", "port '99999' is not 0 to 65535"),
        ("127.0.0.1:65536", "port '65536' is not 0 to 65535"),
        ("127.0.0.1:-1", "port '-1' is not 0 to 65535"),
        ("127.0.0.1:", "port '' is not 0 to 65535"),
        ("127.0.0.1:http", "port 'http' is not 0 to 65535"),
        # Arabic-Indic digits: str.isdigit() says yes; not a port.
        ("127.0.0.1:\u0665\u0660", "port '\u0665\u0660' is not 0 to 65535"),
        ("[::1]:70000", "port '70000' is not 0 to 65535"),
        (":50051", "not a host"),
        ("", "not a host"),
        ("::1", "an IPv6 address goes in brackets"),
        ("::1:50051", "an IPv6 address goes in brackets"),
        ("[::1", "not an address"),
        ("[::1]50051", "not an address"),
        ("dns:///127.0.0.1:50051", "not an address"),
        ("unix:", "no socket path"),
        ("unix:///", "no socket path"),
        ("unix:/run/", "no socket path"),
        ("unix-abstract:", "no socket path"),
    ],
)
def test_bad_listen_is_refused_from_every_source(
    text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--listen", text], {})
    assert exit_info.value.code == 2
    assert f"argument --listen: {message}" in capsys.readouterr().err

    with pytest.raises(
        ValueError, match=re.escape(f"CONTEXTSTORE_LISTEN={text!r}: ") + ".*" + re.escape(message)
    ):
        parse([], {"CONTEXTSTORE_LISTEN": text})
    with pytest.raises(ValueError, match="--listen / CONTEXTSTORE_LISTEN: .*" + re.escape(message)):
        ServerConfig(listen=text)


# -- log level -----------------------------------------------------------------


@pytest.mark.parametrize("text", ["debug", "Debug", "DEBUG"])
def test_log_level_in_any_case(text: str) -> None:
    assert parse(["--log-level", text], {}).log_level == "DEBUG"
    assert parse([], {"CONTEXTSTORE_LOG_LEVEL": text}).log_level == "DEBUG"
    assert ServerConfig(log_level=text).log_level == "DEBUG"


def test_unknown_log_level_flag_is_a_usage_error_listing_the_levels(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--log-level", "verbose"], {})

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --log-level: invalid choice: 'VERBOSE'" in err
    assert "'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'" in err


def test_unknown_log_level_in_environment_names_the_variable_and_the_levels() -> None:
    with pytest.raises(
        ValueError,
        match=r"CONTEXTSTORE_LOG_LEVEL: 'VERBOSE' is not one of DEBUG, INFO, WARNING, ERROR, CRIT",
    ):
        parse([], {"CONTEXTSTORE_LOG_LEVEL": "verbose"})


# -- upper bounds: what would otherwise fail deep inside grpcio or a timer -------


def test_largest_content_grpc_can_carry_is_accepted() -> None:
    parsed = parse(["--max-content-bytes", str(MAX_CONTENT_BYTES)], {})

    assert parsed.max_message_bytes == (1 << 31) - 1  # a C int: grpcio's limit


@pytest.mark.parametrize("text", [str(MAX_CONTENT_BYTES + 1), "2GiB", "4GiB", "2047MiB"])
def test_content_larger_than_grpc_can_carry_is_refused(text: str) -> None:
    with pytest.raises(
        ValueError,
        match=r"--max-content-bytes / CONTEXTSTORE_MAX_CONTENT_BYTES must be at most 2146435071 B "
        r"\(gRPC's largest message less 1 MiB of headroom\)",
    ):
        parse(["--max-content-bytes", text], {})


@pytest.mark.parametrize(
    "name", ["grace_seconds", "session_ttl_seconds", "sweep_seconds", "receive_timeout_seconds"]
)
def test_durations_are_bounded(name: str) -> None:
    assert getattr(parse([_flag(name), "3650d"], {}), name) == MAX_SECONDS
    with pytest.raises(ValueError, match=f"{_env(name)} must be at most 3650d, got 3651d"):
        parse([_flag(name), "3651d"], {})
    with pytest.raises(ValueError, match=f"{_env(name)} must be at most 3650d"):
        parse([], {_env(name): "99999999999999999999h"})


@pytest.mark.parametrize("name", ["stripes", "workers"])
def test_what_is_allocated_at_start_is_bounded(name: str) -> None:
    assert getattr(parse([_flag(name), "4096"], {}), name) == 4096
    with pytest.raises(ValueError, match=f"{_flag(name)} / {_env(name)} must be at most 4096"):
        parse([_flag(name), "100000000"], {})


@pytest.mark.parametrize("name", ["total_bytes", "max_batch_items", "session_entries"])
def test_counts_and_sizes_fit_the_int64_of_get_server_info(name: str) -> None:
    assert getattr(parse([_flag(name), str((1 << 63) - 1)], {}), name) == (1 << 63) - 1
    with pytest.raises(ValueError, match=f"{_env(name)} must be at most "):
        parse([_flag(name), str(1 << 63)], {})


# -- --help and --version ------------------------------------------------------


def _help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--help"], {})
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_help_shows_defaults_in_human_units(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(_help(capsys).split())

    for flag, default in [
        ("max-content-bytes", "16 MiB"),
        ("max-inflight-response-bytes", "32 MiB"),
        ("total-bytes", "1 GiB"),
        ("max-label-value-bytes", "4 KiB"),
        ("session-ttl-seconds", "1h"),
        ("grace-seconds", "5s"),
        ("sweep-seconds", "30s"),
        ("receive-timeout-seconds", "5s"),
    ]:
        assert re.search(rf"--{flag} \w+ .*?default {default}\]", text), flag
    assert str(16 * MiB) not in text
    assert str(GiB) not in text
    assert "3600" not in text


def test_help_never_splits_a_number_from_its_unit(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _help(capsys).splitlines()

    assert not [line for line in lines if re.search(r"default \d+$", line.rstrip())], lines
    assert not [line for line in lines if re.match(r"\s*[KMG]?i?B\]", line)], lines


def test_help_lists_choices_and_states_the_units(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(_help(capsys).split())

    assert "--log-level {DEBUG,INFO,WARNING,ERROR,CRITICAL}" in text
    assert "--backend {memory,redis}" in text
    assert "--redis-url URL" in text and "--redis-key-prefix PREFIX" in text
    assert "--max-content-bytes SIZE" in text
    assert "--grace-seconds DURATION" in text
    assert "16K = 16KiB = 16 x 1024 (binary); 16KB = 16 x 1000 (decimal)" in text
    assert "case-insensitive" in text
    assert "15m, 1h" in text


def test_help_has_no_markup(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)

    assert "``" not in text
    assert ":func:" not in text
    assert "%(" not in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--version"], {})

    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"contextstore serve {__version__}\n"


def test_a_duration_given_as_an_int_is_bounded_as_a_duration() -> None:
    with pytest.raises(ValueError, match="at most 3650d"):
        ServerConfig(grace_seconds=10**15)
