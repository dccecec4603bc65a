"""The client commands, run as the real ``contextstore`` subprocess against a real server.

``--json`` output is protobuf's JSON mapping of the response (int64 as strings,
bytes as base64, proto field names); tests/cli/test_render.py holds it to grpcurl's.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cli.cli_support import BINARY, Cli, human_rows

from contextstore.server.app import Server


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


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
    meta = cli.json("meta", "src/app.py")["metadata"]

    assert meta == put["metadata"]
    assert meta["path"] == "src/app.py"
    assert meta["size"] == str(len(BINARY))
    assert meta["sha256"] == sha256_b64(BINARY)
    assert meta["labels"] == {"lang": "python", "expr": "a=b"}
    assert meta["mtime"] == "2024-05-06T07:08:09Z"
    assert meta["version"] == "1"
    assert cli.ok("get", "src/app.py") == BINARY


def test_put_again_bumps_the_version_and_replaces_content(cli: Cli) -> None:
    cli.ok("put", "a.txt", stdin=b"one")
    meta = cli.json("put", "a.txt", stdin=b"two!")["metadata"]

    assert meta["version"] == "2"
    assert meta["size"] == "4"
    assert "mtime" not in meta  # a message field never set is absent, as in json_format
    assert cli.ok("get", "a.txt") == b"two!"


def test_non_ascii_paths_round_trip(cli: Cli) -> None:
    cli.ok("put", "src/ünïcødé/файл.py", stdin=b"u")

    assert cli.ok("get", "src/ünïcødé/файл.py") == b"u"
    assert cli.json("meta", "src/ünïcødé/файл.py")["metadata"]["path"] == "src/ünïcødé/файл.py"


def test_put_from_dash_reads_stdin(cli: Cli) -> None:
    cli.ok("put", "dash.txt", "--from", "-", stdin=b"from stdin")

    assert cli.ok("get", "dash.txt") == b"from stdin"


def test_empty_content_is_cached(cli: Cli) -> None:
    assert cli.json("put", "empty", stdin=b"")["metadata"]["size"] == "0"
    assert cli.ok("get", "empty") == b""


def test_meta_human_output(cli: Cli) -> None:
    cli.ok("put", "m.txt", "--label", "k=v", "--mtime", "2024-01-02T03:04:05+00:00", stdin=b"hi")

    rows = human_rows(cli.text("meta", "m.txt"))

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

    assert base64.b64decode(out["content"]) == BINARY
    assert out["metadata"]["sha256"] == sha256_b64(BINARY)
    assert out["metadata"]["size"] == str(len(BINARY))


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
    assert base64.b64decode(as_json["result"]) == result.read_bytes()
    assert as_json["cached_at"]


def test_analysis_put_json_is_the_cached_at_time(cli: Cli) -> None:
    cli.ok("put", "p", stdin=b"p")
    cached_at = cli.json("analysis", "put", "p", "lint", stdin=b"r")["cached_at"]

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
    assert _counts(cli.json("invalidate", "f", "--analyses")) == {"analyses_removed": "0"}
    assert "not found" in cli.fails("analysis", "get", "f", "deps")
    assert cli.ok("get", "f") == b"f"


def test_invalidate_file_drops_it_and_its_analyses(cli: Cli) -> None:
    cli.ok("put", "f", stdin=b"f")
    cli.ok("put", "other", stdin=b"o")
    cli.ok("analysis", "put", "f", "lint", stdin=b"l")
    cli.ok("analysis", "put", "f", "types", stdin=b"t")

    assert cli.text("invalidate", "f") == "removed 1 file(s), 2 analysis(es)\n"
    assert _counts(cli.json("invalidate", "f")) == {"files_removed": "0", "analyses_removed": "0"}
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
    cleared = cli.json("clear", "--session", "s1")
    assert _counts(cleared) == {"files_removed": "0", "analyses_removed": "0"}
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

    whole = {k: int(v) for k, v in cli.json("store-stats").items()}
    session = {k: int(v) for k, v in cli.json("stats", "--session", "s").items()}

    # Charges: content + path (+ labels) per file; result + path + type per analysis.
    session_bytes = (1000 + 2) + (1 + 2 + 4)
    assert (whole["files"], whole["analyses"]) == (3, 1)
    assert (session["files"], session["analyses"]) == (1, 1)
    assert session["bytes"] == session_bytes
    assert whole["bytes"] == session_bytes + 2 * (100 + 2)
    assert (session["hits"], session["misses"]) == (1, 1)
    assert session["sessions"] == 1
    assert whole["sessions"] == 2  # "s" and the global namespace
    rows = human_rows(cli.text("stats", "--session", "s"))
    assert rows["files"] == "1"
    assert rows["bytes"] == str(session["bytes"])
    assert human_rows(cli.text("store-stats"))["files"] == "3"
    assert human_rows(cli.text("stats"))["files"] == "2"  # the global namespace


def test_stats_of_an_unknown_session_is_empty(cli: Cli) -> None:
    cli.ok("put", "g", stdin=b"g")

    stats = cli.json("stats", "--session", "nobody")

    assert (stats["files"], stats["analyses"], stats["bytes"]) == ("0", "0", "0")


def test_info_json_reports_the_server_limits(cli: Cli, server: Server) -> None:
    info = cli.json("info")

    limits = info["limits"]
    assert info["backend"] == "memory"
    assert info["version"]
    assert info["backend_properties"]["stripes"] == str(server.config.stripes)
    assert limits["max_content_bytes"] == str(1 << 20)
    assert limits["max_message_bytes"] == str((1 << 20) + (1 << 20))
    assert limits["max_batch_items"] == str(server.config.max_batch_items)
    assert limits["max_path_bytes"] == "4096"
    assert limits["session_ttl"] == f"{server.config.session_ttl_seconds:g}s"
    assert limits["max_concurrent_rpcs"] == str(server.config.max_concurrent_rpcs)


def test_info_human_output(cli: Cli) -> None:
    text = cli.text("info")

    rows = human_rows(text)
    assert rows["backend"] == "memory"
    assert rows["limits:"] == ""
    assert rows["max_content_bytes"] == str(1 << 20)
    assert "  max_batch_items" in text  # limits are indented under their heading


def test_info_follows_the_server_configuration(start_server: Any) -> None:
    server = start_server(max_batch_items=7, max_content_bytes=4096)

    limits = Cli(server.address).json("info")["limits"]

    assert limits["max_batch_items"] == "7"
    assert limits["max_content_bytes"] == "4096"


# -- sessions ------------------------------------------------------------------


def test_sessions_are_isolated(cli: Cli) -> None:
    cli.ok("put", "shared/path", "--session", "alice", stdin=b"alice's")

    assert cli.ok("get", "shared/path", "--session", "alice") == b"alice's"
    assert "not found: shared/path" in cli.fails("get", "shared/path", "--session", "bob")
    assert "not found" in cli.fails("get", "shared/path")
    assert "not found" in cli.fails("meta", "shared/path", "--session", "bob")


# -- batches -------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    """A small source tree under ``root``; its files by the path they are cached under."""
    files = {"src/app.py": b"print('hi')\n", "src/lib/util.py": BINARY, "README": b"read me"}
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return files


def test_put_files_caches_a_directory_and_files_under_their_paths(cli: Cli, tmp_path: Path) -> None:
    files = _tree(tmp_path)
    here = cli.inside(tmp_path)

    out = here.json("put", "--files", "./src", "README", "--label", "k=v", "--session", "b")

    cached = [m["path"] for m in out["metadata"]]
    assert cached == ["src/app.py", "src/lib/util.py", "README"]
    assert all(m["labels"] == {"k": "v"} for m in out["metadata"])
    for path, content in files.items():
        assert cli.ok("get", path, "--session", "b") == content
    said = here.text("put", "--files", "src", "--session", "b")
    assert said.splitlines()[-1] == "cached 2 file(s)"
    assert said.startswith("src/app.py  12 bytes  version ")


def test_put_files_is_one_batch_all_or_none(start_server: Any, tmp_path: Path) -> None:
    cli = Cli(start_server(max_content_bytes=100).address).inside(tmp_path)
    (tmp_path / "small").write_bytes(b"s")
    (tmp_path / "large").write_bytes(b"l" * 101)

    err = cli.fails("put", "--files", "small", "large", status=67)

    assert "files[1].content" in err
    assert "not found" in cli.fails("get", "small")


def test_get_of_several_paths_prints_each_after_a_header(cli: Cli) -> None:
    cli.ok("put", "a", stdin=b"first")
    cli.ok("put", "b", stdin=BINARY)

    assert cli.ok("get", "a", "b", "a") == (
        b"==> a <==\nfirst" + b"\n==> b <==\n" + BINARY + b"\n==> a <==\nfirst"
    )


def test_get_of_several_paths_names_the_misses_and_exits_1(cli: Cli) -> None:
    cli.ok("put", "a", stdin=b"first")

    done = cli("get", "nope", "a", "gone")
    as_json = cli("get", "nope", "a", "gone", "--json")

    assert done.returncode == 1
    assert done.stdout == b"==> a <==\nfirst"
    assert done.stderr == b"contextstore get: not found: nope, gone\n"
    assert as_json.returncode == 1
    found = json.loads(as_json.stdout)["files"]
    assert [f["found"] for f in found] == [False, True, False]
    assert base64.b64decode(found[1]["content"]) == b"first"
    assert json.loads(as_json.stderr) == {
        "code": 5, "message": "not found: nope, gone", "details": []
    }  # fmt: skip


def test_put_files_refuses_from_and_paths_that_are_not_files(cli: Cli, tmp_path: Path) -> None:
    _tree(tmp_path)
    here = cli.inside(tmp_path)

    assert "--from" in here.usage_error("put", "--files", "src", "--from", "README")
    assert "not a file or directory: 'missing'" in here.usage_error("put", "--files", "missing")
    assert "one of the arguments" in here.usage_error("put")
    (tmp_path / "empty").mkdir()
    assert "no files in 'empty'" in here.usage_error("put", "--files", "empty")
    assert "not found" in cli.fails("get", "src/app.py")


def _counts(response: dict[str, str]) -> dict[str, str]:
    """A removal's counts; its revision (the namespace's, unchanged here) is a number."""
    assert int(response.pop("revision")) > 0
    return response
