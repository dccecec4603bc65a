"""How the command fails: exit statuses, errors on stderr (JSON under --json), no tracebacks.

Everything here runs the real ``contextstore`` subprocess against a real server
(or an address that refuses, or a socket that never answers).
"""

from __future__ import annotations

import json
import os
import pty
import signal
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from cli.cli_support import CONTEXTSTORE, Cli, run
from support import clean_env

from contextstore.server.app import Server

INVALID_ARGUMENT, UNAVAILABLE = 64 + 3, 64 + 14


# -- statuses of failed calls --------------------------------------------------


def test_miss_exits_1_with_not_found(cli: Cli) -> None:
    assert cli.fails("get", "nope") == "contextstore get: not found: nope\n"
    assert cli.fails("meta", "nope") == "contextstore meta: not found: nope\n"


def test_analysis_miss_names_type_and_path(cli: Cli) -> None:
    cli.ok("put", "f", stdin=b"f")

    err = cli.fails("analysis", "get", "f", "lint")

    assert err == "contextstore analysis get: not found: lint of f\n"


def test_miss_with_json_is_the_servers_status_on_stderr(cli: Cli) -> None:
    err = json.loads(cli.fails("get", "nope", "--json"))

    assert err["code"] == 5
    assert "nope" in err["message"]


def test_invalid_argument_exits_67_naming_the_field(cli: Cli) -> None:
    err = cli.fails("put", "", stdin=b"x", status=INVALID_ARGUMENT)

    assert err.startswith("contextstore put: INVALID_ARGUMENT")
    assert "path" in err
    assert "INVALID_ARGUMENT" in cli.fails("get", "", status=INVALID_ARGUMENT)


def test_invalid_argument_with_json_carries_the_bad_request(cli: Cli) -> None:
    err = json.loads(cli.fails("put", "p" * 5000, "--json", stdin=b"x", status=INVALID_ARGUMENT))

    assert err["code"] == 3
    (detail,) = err["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert detail["field_violations"][0]["field"] == "path"
    assert "4096" in detail["field_violations"][0]["description"]


def test_empty_analysis_type_is_invalid_argument(cli: Cli) -> None:
    cli.ok("put", "f", stdin=b"f")

    err = cli.fails("analysis", "put", "f", "", stdin=b"r", status=INVALID_ARGUMENT)

    assert "analysis_type" in err


def test_content_over_the_limit_is_refused(start_server: Any) -> None:
    cli = Cli(start_server(max_content_bytes=1000).address)

    err = cli.fails("put", "big", stdin=b"x" * 1001, status=INVALID_ARGUMENT)

    assert err.startswith("contextstore put: INVALID_ARGUMENT")
    assert "content" in err
    assert "1000" in err
    assert "not found" in cli.fails("get", "big")


def test_unreachable_target_is_unavailable_exit_78(dead_target: str) -> None:
    for args in (["get", "x"], ["put", "x"], ["stats"], ["stats", "--json"]):
        done = run(*args, "--target", dead_target, "--timeout", "5")

        assert done.returncode == UNAVAILABLE, args
        assert done.stdout == b""
        assert b"UNAVAILABLE" in done.stderr or b'"code": 14' in done.stderr, done.stderr
    as_json = json.loads(run("info", "--json", "--target", dead_target).stderr)
    assert as_json["code"] == 14


def test_the_help_documents_every_exit_status() -> None:
    done = run("--help")

    assert done.returncode == 0
    text = done.stdout.decode()
    for line in ("  0  success", "  1  not found", "  2  usage", " 67  the call failed with "
                 "INVALID_ARGUMENT", " 71  the call failed with PERMISSION_DENIED",
                 " 78  the call failed with UNAVAILABLE", "130  interrupted"):  # fmt: skip
        assert line in text
    assert "google.rpc.Status" in text
    assert "exit status:" in run("get", "--help").stdout.decode()


def test_version() -> None:
    done = run("--version")

    assert done.returncode == 0
    assert done.stdout.decode() == f"contextstore {metadata.version('contextstore-grpc')}\n"


# -- usage errors: exit 2, one line, never a traceback ---------------------------


def test_missing_input_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"

    err = cli.usage_error("put", "x", "--from", str(missing))
    as_json = json.loads(cli.usage_error("put", "x", "--from", str(missing), "--json"))

    assert err == f"contextstore put: cannot read {str(missing)!r}: No such file or directory\n"
    assert as_json == {"code": 3, "message": err.split(": ", 1)[1].strip(), "details": []}
    assert "not found" in cli.fails("get", "x")


def test_arguments_that_are_not_utf8_are_usage_errors(cli: Cli) -> None:
    bad = b"src/\xff\xfe.py"
    cases: list[list[str | bytes]] = [
        ["get", bad], ["put", bad], ["analysis", "get", "f", bad], ["stats", "--session", bad],
        ["put", "x", "--label", b"k=\xff"], ["get", "x", "--target", bad],
    ]  # fmt: skip

    for args in cases:
        err = cli.usage_error(*args, stdin=b"x")

        assert "not valid UTF-8: '" in err, args
        assert "\\xff" in err, args


def test_a_path_the_terminal_cannot_encode_is_printed_escaped(cli: Cli) -> None:
    cli.ok("put", "файл.py", stdin=b"x")

    done = run("meta", "файл.py", "--target", cli.address, env=clean_env(PYTHONIOENCODING="ascii"))

    assert done.returncode == 0, done.stderr
    assert b"path       \\u0444\\u0430\\u0439\\u043b.py\n" in done.stdout


def test_a_file_name_that_is_not_utf8_is_named(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with open(os.path.join(os.fsencode(tmp_path / "d"), b"bad\xff.py"), "wb") as f:
        f.write(b"x")

    err = cli.inside(tmp_path).usage_error("put", "--files", "d")

    assert err == "contextstore put: file name is not valid UTF-8: 'd/bad\\xff.py'\n"


def test_label_with_an_empty_or_repeated_key_is_a_usage_error(cli: Cli) -> None:
    assert "the key is empty" in cli.usage_error("put", "x", "--label", "=v", stdin=b"x")
    twice = cli.usage_error("put", "x", "--label", "k=1", "--label", "k=2", stdin=b"x")
    assert "label 'k' is given twice" in twice
    assert "KEY=VALUE" in cli.usage_error("put", "x", "--label", "no-equals-sign", stdin=b"x")
    assert "not found" in cli.fails("get", "x")


def test_timeout_must_be_a_positive_duration(cli: Cli) -> None:
    assert "must be more than 0" in cli.usage_error("info", "--timeout", "-1")
    assert "must be more than 0" in cli.usage_error("info", "--timeout", "0")
    assert "not a duration" in cli.usage_error("info", "--timeout", "soon")
    assert cli.json("info", "--timeout", "30s")["backend"] == "memory"
    # Past ten years grpc's deadline overflows: the call would fail at once.
    assert "at most 3650d" in cli.usage_error("info", "--timeout", "200000d")


def test_message_limit_past_what_grpc_takes_is_a_usage_error(cli: Cli) -> None:
    # grpc's channel arguments are C ints: 3 GiB used to end in an OverflowError traceback.
    err = cli.usage_error("get", "x", "--max-message-bytes", "3GiB")
    assert "--max-message-bytes" in err
    assert "Traceback" not in err


def test_malformed_mtime_is_a_usage_error(cli: Cli) -> None:
    err = cli.usage_error("put", "x", "--mtime", "yesterday", stdin=b"x")

    assert "--mtime" in err
    assert "not an ISO 8601 time" in err


def test_put_with_a_terminal_as_stdin_is_refused_with_a_hint(cli: Cli) -> None:
    # Reading would wait for a person to type the content: the CLI says how to give it.
    main, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [CONTEXTSTORE, "put", "x", "--target", cli.address],
            stdin=terminal, capture_output=True, env=clean_env(), timeout=30, check=False,
        )  # fmt: skip
    finally:
        os.close(terminal)
        os.close(main)

    assert done.returncode == 2, done.stderr
    assert b"stdin is a terminal" in done.stderr
    assert b"--from FILE" in done.stderr
    assert "not found" in cli.fails("get", "x")


# -- signals and closed pipes ----------------------------------------------------


def test_ctrl_c_during_a_call_exits_130_without_a_traceback() -> None:
    # A server that accepts the connection and never answers: the call blocks
    # until its deadline, and the accept tells us the CLI is inside it.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        cli = subprocess.Popen(
            [CONTEXTSTORE, "info", "--target", f"127.0.0.1:{port}", "--timeout", "120"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(),
        )  # fmt: skip
        connection, _ = silent.accept()
        with connection:
            cli.send_signal(signal.SIGINT)
            out, err = cli.communicate(timeout=30)

    assert cli.returncode == 130
    assert out == b""
    assert err == b"\n"  # the prompt after ^C starts on a fresh line; no KeyboardInterrupt


def test_a_closed_stdout_ends_quietly(cli: Cli) -> None:
    # `contextstore info | head -0`: the reader is gone before the first write.
    cli.ok("put", "f", stdin=b"f" * 100_000)
    for args in (["info"], ["get", "f"], ["meta", "f", "--json"]):
        read, write = os.pipe()
        os.close(read)
        try:
            done = subprocess.run(
                [CONTEXTSTORE, *args, "--target", cli.address],
                stdout=write, stderr=subprocess.PIPE, env=clean_env(), timeout=60, check=False,
            )  # fmt: skip
        finally:
            os.close(write)

        assert done.returncode == 141, (args, done.stderr)
        assert done.stderr == b"", args


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
    assert refused.returncode == UNAVAILABLE
    assert b"UNAVAILABLE" in refused.stderr


def test_connection_flags_work_before_the_command_too(cli: Cli, dead_target: str) -> None:
    # Like etcdctl and grpcurl: flags before the command, and after it winning.
    put = run("--target", cli.address, "--session", "s", "put", "p", stdin=b"x")
    assert put.returncode == 0, put.stderr
    meta = run("--target", cli.address, "--json", "--session", "s", "meta", "p")
    assert json.loads(meta.stdout)["metadata"]["size"] == "1"
    assert cli.ok("get", "p", "--session", "s") == b"x"
    overridden = run("--target", dead_target, "info", "--target", cli.address)
    assert overridden.returncode == 0, overridden.stderr
