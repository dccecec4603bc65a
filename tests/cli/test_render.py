"""One JSON dialect: ``contextstore ... --json`` prints what grpcurl prints for the same call.

grpcurl (``make tools``, .tools/bin) is run with ``-emit-defaults``, as the CLI
prints zero values too; grpcurl also prints an absent message field as
``null`` where protobuf's Python mapping leaves it out, so those nulls are
dropped before comparing. Everything else must be equal, value for value.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli.cli_support import BINARY, Cli

from contextstore.server.app import Server

GRPCURL = Path(__file__).resolve().parents[2] / ".tools" / "bin" / "grpcurl"
SERVICE = "contextstore.v1.ContextStoreService"


def grpcurl(server: Server, rpc: str, body: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    assert GRPCURL.exists(), f"{GRPCURL} is missing: run `make tools`"
    return subprocess.run(
        [str(GRPCURL), "-plaintext", "-emit-defaults", "-format-error", "-d", json.dumps(body),
         server.address, f"{SERVICE}/{rpc}"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


@pytest.fixture
def stored(cli: Cli) -> Cli:
    """An entry with every kind of field: bytes, labels, mtime, an analysis, a miss."""
    cli.ok("put", "src/ünï.py", "--session", "s", "--label", "lang=python",
           "--mtime", "1969-07-20T20:17:40.5+00:00", stdin=BINARY)  # fmt: skip
    cli.ok("put", "plain", "--session", "s", stdin=b"")
    cli.ok("analysis", "put", "src/ünï.py", "ast", "--session", "s", stdin=b"\x00tree")
    return cli


CASES = [
    (["get", "src/ünï.py"], "GetFile", {"path": "src/ünï.py"}),
    (["get", "plain"], "GetFile", {"path": "plain"}),
    (["meta", "src/ünï.py"], "GetMetadata", {"path": "src/ünï.py"}),
    (["get", "src/ünï.py", "nope", "plain"], "BatchGetFiles",
     {"paths": ["src/ünï.py", "nope", "plain"]}),
    (["analysis", "get", "src/ünï.py", "ast"], "GetAnalysis",
     {"path": "src/ünï.py", "analysis_type": "ast"}),
    (["stats"], "GetStats", {}),
    (["info"], "GetServerInfo", {}),
    (["store-stats"], "GetStoreStats", {}),
    (["invalidate", "nope", "--analyses"], "InvalidateAnalysis", {"path": "nope"}),
    (["clear", "--session", "nobody"], "ClearSession", {"session_id": "nobody"}),
]  # fmt: skip


@pytest.mark.parametrize(("args", "rpc", "body"), CASES, ids=[c[1] for c in CASES])
def test_json_is_what_grpcurl_prints(
    stored: Cli, server: Server, args: list[str], rpc: str, body: dict[str, Any]
) -> None:
    if "--session" not in args and rpc not in ("GetServerInfo", "GetStoreStats"):
        args, body = [*args, "--session", "s"], {**body, "session_id": "s"}
    ours = stored(*args, "--json")
    theirs = grpcurl(server, rpc, body)

    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == (1 if rpc == "BatchGetFiles" else 0), ours.stderr  # it has a miss
    assert json.loads(ours.stdout) == without_nulls(json.loads(theirs.stdout))


@pytest.mark.parametrize(
    ("args", "rpc", "body"),
    [
        (["get", ""], "GetFile", {"path": ""}),
        (["get", "x", "--session", "\x01"], "GetFile", {"path": "x", "session_id": "\x01"}),
        (["get", "nope"], "GetFile", {"path": "nope"}),
    ],
    ids=["empty path", "bad session", "miss"],
)
def test_json_errors_are_what_grpcurl_prints(
    cli: Cli, server: Server, args: list[str], rpc: str, body: dict[str, Any]
) -> None:
    ours = cli(*args, "--json")
    theirs = grpcurl(server, rpc, body)

    assert ours.stdout == b""
    assert json.loads(ours.stderr) == without_nulls(json.loads(theirs.stderr))
    # The exit status is grpcurl's (64 + code), but for a miss, which is 1.
    assert ours.returncode == (1 if theirs.returncode == 64 + 5 else theirs.returncode)
