"""The ``contextstore`` command line, run as a real subprocess against a real server."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from support import clean_env, console_script

from contextstore.server.app import Server

# Every byte value, CR/LF pairs and a trailing NUL: what a text pipe would mangle.
BINARY = bytes(range(256)) * 3 + b"\r\n\n\r\x00"


CONTEXTSTORE = console_script()


def run(
    *args: str, stdin: bytes = b"", env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``contextstore ARGS``; bounded so a hung CLI fails the test, not the run."""
    return subprocess.run(
        [CONTEXTSTORE, *args],
        input=stdin,
        capture_output=True,
        env=clean_env() if env is None else dict(env),
        timeout=60,
        check=False,
    )


class Cli:
    """The CLI aimed at one server: ``--target`` is added to every command."""

    def __init__(self, address: str) -> None:
        self.address = address

    def __call__(self, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return run(*args, "--target", self.address, stdin=stdin)

    def ok(self, *args: str, stdin: bytes = b"") -> bytes:
        done = self(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr.decode()
        assert done.stderr == b""
        return done.stdout

    def text(self, *args: str, stdin: bytes = b"") -> str:
        return self.ok(*args, stdin=stdin).decode()

    def json(self, *args: str, stdin: bytes = b"") -> Any:
        return json.loads(self.ok(*args, "--json", stdin=stdin))

    def fails(self, *args: str, stdin: bytes = b"") -> str:
        done = self(*args, stdin=stdin)
        assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
        assert done.stdout == b""
        return done.stderr.decode()


def _rows(text: str) -> dict[str, str]:
    """``key  value`` lines of the human output, as a dict."""
    rows = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        rows[key] = value.strip()
    return rows


@pytest.fixture
def cli(server: Server) -> Cli:
    return Cli(server.address)


@pytest.fixture
def dead_target() -> Iterator[str]:
    """An address that refuses connections: bound, so nobody else takes it, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


# -- put, get, meta ------------------------------------------------------------


def test_put_from_stdin_then_get_returns_the_exact_bytes(cli: Cli) -> None:
    cli.ok("put", "bin/blob", stdin=BINARY)

    assert cli.ok("get", "bin/blob") == BINARY


def test_put_from_file_with_labels_and_mtime_then_meta_json(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_bytes(BINARY)

    put = cli.json(
        "put", "src/app.py", "--from", str(source),
        "--label", "lang=python", "--label", "expr=a=b",
        "--mtime", "2024-05-06T07:08:09+00:00",
    )  # fmt: skip
    meta = cli.json("meta", "src/app.py")

    assert meta == put
    assert meta["path"] == "src/app.py"
    assert meta["size"] == len(BINARY)
    assert meta["sha256"] == hashlib.sha256(BINARY).hexdigest()
    assert meta["labels"] == {"lang": "python", "expr": "a=b"}
    assert meta["mtime"] == "2024-05-06T07:08:09+00:00"
    assert meta["version"] == 1
    assert cli.ok("get", "src/app.py") == BINARY


def test_put_again_bumps_the_version_and_replaces_content(cli: Cli) -> None:
    cli.ok("put", "a.txt", stdin=b"one")
    meta = cli.json("put", "a.txt", stdin=b"two!")

    assert meta["version"] == 2
    assert meta["size"] == 4
    assert meta["mtime"] is None
    assert cli.ok("get", "a.txt") == b"two!"


def test_non_ascii_paths_round_trip(cli: Cli) -> None:
    cli.ok("put", "src/ünïcødé/файл.py", stdin=b"u")

    assert cli.ok("get", "src/ünïcødé/файл.py") == b"u"
    assert cli.json("meta", "src/ünïcødé/файл.py")["path"] == "src/ünïcødé/файл.py"


def test_put_from_dash_reads_stdin(cli: Cli) -> None:
    cli.ok("put", "dash.txt", "--from", "-", stdin=b"from stdin")

    assert cli.ok("get", "dash.txt") == b"from stdin"


def test_empty_content_is_cached(cli: Cli) -> None:
    assert cli.json("put", "empty", stdin=b"")["size"] == 0
    assert cli.ok("get", "empty") == b""


def test_meta_human_output(cli: Cli) -> None:
    cli.ok("put", "m.txt", "--label", "k=v", "--mtime", "2024-01-02T03:04:05+00:00", stdin=b"hi")

    rows = _rows(cli.text("meta", "m.txt"))

    assert rows["path"] == "m.txt"
    assert rows["size"] == "2"
    assert rows["sha256"] == hashlib.sha256(b"hi").hexdigest()
    assert rows["mtime"] == "2024-01-02T03:04:05+00:00"
    assert rows["labels"] == "k=v"
    assert rows["version"] == "1"
    assert rows["cached_at"]


def test_get_json_carries_content_as_base64_and_metadata(cli: Cli) -> None:
    cli.ok("put", "j.bin", stdin=BINARY)

    out = cli.json("get", "j.bin")

    assert base64.b64decode(out["content_base64"]) == BINARY
    assert out["metadata"]["sha256"] == hashlib.sha256(BINARY).hexdigest()
    assert out["metadata"]["size"] == len(BINARY)


# -- analyses ------------------------------------------------------------------


def test_analysis_put_then_get(cli: Cli, tmp_path: Path) -> None:
    cli.ok("put", "src/x.py", stdin=b"x = 1\n")
    result = tmp_path / "lint.json"
    result.write_bytes(b'{"warnings": []}\x00\xff')

    said = cli.text("analysis", "put", "src/x.py", "lint", "--from", str(result))
    cli.ok("analysis", "put", "src/x.py", "types", stdin=b"ok")

    assert said.startswith("cached at ")
    assert cli.ok("analysis", "get", "src/x.py", "lint") == result.read_bytes()
    assert cli.ok("analysis", "get", "src/x.py", "types") == b"ok"
    as_json = cli.json("analysis", "get", "src/x.py", "lint")
    assert base64.b64decode(as_json["result_base64"]) == result.read_bytes()
    assert as_json["cached_at"]


def test_analysis_put_json_is_the_cached_at_time(cli: Cli) -> None:
    cli.ok("put", "p", stdin=b"p")
    cached_at = cli.json("analysis", "put", "p", "lint", stdin=b"r")

    assert cached_at == cli.json("analysis", "get", "p", "lint")["cached_at"]


# -- invalidate and clear ------------------------------------------------------


def test_invalidate_one_analysis_type(cli: Cli) -> None:
    cli.ok("put", "f", stdin=b"f")
    cli.ok("analysis", "put", "f", "lint", stdin=b"l")
    cli.ok("analysis", "put", "f", "types", stdin=b"t")

    assert cli.text("invalidate", "f", "--analysis", "lint") == "removed 1 analysis(es)\n"
    assert cli.text("invalidate", "f", "--analysis", "lint") == "removed 0 analysis(es)\n"
    assert "not found" in cli.fails("analysis", "get", "f", "lint")
    assert cli.ok("analysis", "get", "f", "types") == b"t"
    assert cli.ok("get", "f") == b"f"


def test_invalidate_all_analyses_keeps_the_file(cli: Cli) -> None:
    cli.ok("put", "f", stdin=b"f")
    for kind in ("lint", "types", "deps"):
        cli.ok("analysis", "put", "f", kind, stdin=kind.encode())

    assert cli.text("invalidate", "f", "--analyses") == "removed 3 analysis(es)\n"
    assert cli.json("invalidate", "f", "--analyses") == 0
    assert "not found" in cli.fails("analysis", "get", "f", "deps")
    assert cli.ok("get", "f") == b"f"


def test_invalidate_file_drops_it_and_its_analyses(cli: Cli) -> None:
    cli.ok("put", "f", stdin=b"f")
    cli.ok("put", "other", stdin=b"o")
    cli.ok("analysis", "put", "f", "lint", stdin=b"l")
    cli.ok("analysis", "put", "f", "types", stdin=b"t")

    assert cli.text("invalidate", "f") == "removed 1 file(s), 2 analysis(es)\n"
    assert cli.json("invalidate", "f") == {"files": 0, "analyses": 0}
    assert "not found" in cli.fails("get", "f")
    assert "not found" in cli.fails("analysis", "get", "f", "lint")
    assert cli.ok("get", "other") == b"o"


def test_clear_drops_only_its_own_session(cli: Cli) -> None:
    cli.ok("put", "a", "--session", "s1", stdin=b"a")
    cli.ok("put", "b", "--session", "s1", stdin=b"b")
    cli.ok("analysis", "put", "a", "lint", "--session", "s1", stdin=b"l")
    cli.ok("put", "a", stdin=b"global")
    cli.ok("put", "a", "--session", "s2", stdin=b"s2")

    assert cli.text("clear", "--session", "s1") == "removed 2 file(s), 1 analysis(es)\n"
    assert cli.json("clear", "--session", "s1") == {"files": 0, "analyses": 0}
    assert "not found" in cli.fails("get", "a", "--session", "s1")
    assert cli.ok("get", "a") == b"global"
    assert cli.ok("get", "a", "--session", "s2") == b"s2"


def test_clear_without_session_clears_the_global_namespace(cli: Cli) -> None:
    cli.ok("put", "a", stdin=b"a")
    cli.ok("put", "a", "--session", "s", stdin=b"s")

    assert cli.text("clear") == "removed 1 file(s), 0 analysis(es)\n"
    assert "not found" in cli.fails("get", "a")
    assert cli.ok("get", "a", "--session", "s") == b"s"


# -- stats and info ------------------------------------------------------------


def test_stats_of_the_store_and_of_a_session(cli: Cli) -> None:
    cli.ok("put", "g1", stdin=b"1" * 100)
    cli.ok("put", "g2", stdin=b"2" * 100)
    cli.ok("put", "s1", "--session", "s", stdin=b"3" * 1000)
    cli.ok("analysis", "put", "s1", "lint", "--session", "s", stdin=b"r")
    cli.ok("get", "s1", "--session", "s")
    cli.fails("get", "missing", "--session", "s")

    whole = cli.json("store-stats")
    session = cli.json("stats", "--session", "s")

    # Charges: content + path (+ labels) per file; result + path + type per analysis.
    session_bytes = (1000 + 2) + (1 + 2 + 4)
    assert (whole["files"], whole["analyses"]) == (3, 1)
    assert (session["files"], session["analyses"]) == (1, 1)
    assert session["bytes"] == session_bytes
    assert whole["bytes"] == session_bytes + 2 * (100 + 2)
    assert (session["hits"], session["misses"]) == (1, 1)
    assert session["sessions"] == 1
    assert whole["sessions"] == 2  # "s" and the global namespace
    rows = _rows(cli.text("stats", "--session", "s"))
    assert rows["files"] == "1"
    assert rows["bytes"] == str(session["bytes"])
    assert _rows(cli.text("store-stats"))["files"] == "3"
    assert _rows(cli.text("stats"))["files"] == "2"  # the global namespace


def test_stats_of_an_unknown_session_is_empty(cli: Cli) -> None:
    cli.ok("put", "g", stdin=b"g")

    stats = cli.json("stats", "--session", "nobody")

    assert (stats["files"], stats["analyses"], stats["bytes"]) == (0, 0, 0)


def test_info_json_reports_the_server_limits(cli: Cli, server: Server) -> None:
    info = cli.json("info")

    limits = info["limits"]
    assert info["backend"] == "memory"
    assert info["version"]
    assert info["backend_properties"]["stripes"] == str(server.config.stripes)
    assert limits["max_content_bytes"] == 1 << 20
    assert limits["max_message_bytes"] == (1 << 20) + (1 << 20)
    assert limits["max_batch_items"] == server.config.max_batch_items
    assert limits["max_path_bytes"] == 4096
    assert limits["session_ttl"] == server.config.session_ttl_seconds
    assert limits["max_concurrent_rpcs"] == server.config.max_concurrent_rpcs


def test_info_human_output(cli: Cli) -> None:
    text = cli.text("info")

    rows = _rows(text)
    assert rows["backend"] == "memory"
    assert rows["limits:"] == ""
    assert rows["max_content_bytes"] == str(1 << 20)
    assert "  max_batch_items" in text  # limits are indented under their heading


def test_info_follows_the_server_configuration(start_server: Any) -> None:
    server = start_server(max_batch_items=7, max_content_bytes=4096)

    limits = Cli(server.address).json("info")["limits"]

    assert limits["max_batch_items"] == 7
    assert limits["max_content_bytes"] == 4096


# -- sessions ------------------------------------------------------------------


def test_sessions_are_isolated(cli: Cli) -> None:
    cli.ok("put", "shared/path", "--session", "alice", stdin=b"alice's")

    assert cli.ok("get", "shared/path", "--session", "alice") == b"alice's"
    assert "not found: shared/path" in cli.fails("get", "shared/path", "--session", "bob")
    assert "not found" in cli.fails("get", "shared/path")
    assert "not found" in cli.fails("meta", "shared/path", "--session", "bob")


# -- failures ------------------------------------------------------------------


def test_miss_exits_1_with_not_found(cli: Cli) -> None:
    assert cli.fails("get", "nope") == "contextstore get: not found: nope\n"
    assert cli.fails("meta", "nope") == "contextstore meta: not found: nope\n"


def test_analysis_miss_names_type_and_path(cli: Cli) -> None:
    cli.ok("put", "f", stdin=b"f")

    err = cli.fails("analysis", "get", "f", "lint")

    assert err == "contextstore analysis get: not found: lint of f\n"


def test_miss_with_json_still_fails(cli: Cli) -> None:
    assert "not found" in cli.fails("get", "nope", "--json")


def test_empty_path_is_invalid_argument_naming_path(cli: Cli) -> None:
    err = cli.fails("put", "", stdin=b"x")

    assert "INVALID_ARGUMENT" in err
    assert "path" in err
    assert "INVALID_ARGUMENT" in cli.fails("get", "")


def test_too_long_path_is_invalid_argument_naming_path(cli: Cli) -> None:
    err = cli.fails("put", "p" * 5000, stdin=b"x")

    assert err.startswith("contextstore put: INVALID_ARGUMENT")
    assert "path" in err
    assert "4096" in err


def test_empty_analysis_type_is_invalid_argument(cli: Cli) -> None:
    cli.ok("put", "f", stdin=b"f")

    err = cli.fails("analysis", "put", "f", "", stdin=b"r")

    assert "INVALID_ARGUMENT" in err
    assert "analysis_type" in err


def test_content_over_the_limit_is_refused(start_server: Any) -> None:
    cli = Cli(start_server(max_content_bytes=1000).address)

    err = cli.fails("put", "big", stdin=b"x" * 1001)

    assert err.startswith("contextstore put: INVALID_ARGUMENT")
    assert "content" in err
    assert "1000" in err
    assert "not found" in cli.fails("get", "big")


def test_unreachable_target_is_unavailable(dead_target: str) -> None:
    for args in (["get", "x"], ["put", "x"], ["stats"]):
        done = run(*args, "--target", dead_target, "--timeout", "5")

        assert done.returncode == 1, args
        assert done.stdout == b""
        assert b"UNAVAILABLE" in done.stderr, done.stderr


def test_missing_input_file_fails_cleanly(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"

    err = cli.fails("put", "x", "--from", str(missing))

    assert err.startswith("contextstore put: ")
    assert str(missing) in err
    assert "not found" in cli.fails("get", "x")


def test_malformed_label_is_a_usage_error(cli: Cli) -> None:
    done = cli("put", "x", "--label", "no-equals-sign", stdin=b"x")

    assert done.returncode == 2
    assert b"KEY=VALUE" in done.stderr
    assert "not found" in cli.fails("get", "x")


def test_malformed_mtime_is_a_usage_error(cli: Cli) -> None:
    done = cli("put", "x", "--mtime", "yesterday", stdin=b"x")

    assert done.returncode == 2
    assert b"--mtime" in done.stderr


# -- CONTEXTSTORE_TARGET ---------------------------------------------------------


def test_target_from_environment(server: Server) -> None:
    env = clean_env(CONTEXTSTORE_TARGET=server.address)

    put = run("put", "via/env", stdin=b"env", env=env)
    got = run("get", "via/env", env=env)

    assert put.returncode == 0, put.stderr
    assert got.returncode == 0, got.stderr
    assert got.stdout == b"env"


def test_target_flag_beats_environment(server: Server, dead_target: str) -> None:
    env = clean_env(CONTEXTSTORE_TARGET=dead_target)

    done = run("put", "x", "--target", server.address, stdin=b"x", env=env)
    refused = run("get", "x", "--timeout", "5", env=env)

    assert done.returncode == 0, done.stderr
    assert refused.returncode == 1
    assert b"UNAVAILABLE" in refused.stderr
