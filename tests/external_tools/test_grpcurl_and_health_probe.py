"""The server through tools nobody here wrote: grpcurl and grpc_health_probe.

Both are installed by ``make tools`` (``go install``, pinned) into .tools/bin.
grpcurl knows nothing of our contract but what server reflection tells it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contextstore.server.app import Server

BIN = Path(__file__).resolve().parents[2] / ".tools" / "bin"
SERVICE = "contextstore.v1.ContextStoreService"


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = BIN / tool
    assert path.exists(), f"{path} is missing: run `make tools`"
    return subprocess.run([str(path), *args], capture_output=True, text=True, timeout=30)


def grpcurl(
    server: Server, *args: str, flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return _run("grpcurl", "-plaintext", *flags, server.address, *args)


def call(server: Server, rpc: str, body: dict[str, Any]) -> dict[str, Any]:
    done = grpcurl(server, f"{SERVICE}/{rpc}", flags=("-d", json.dumps(body)))
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_list_shows_the_service_health_and_reflection(server: Server) -> None:
    done = grpcurl(server, "list")
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) >= {SERVICE, "grpc.health.v1.Health"}


def test_describe_shows_every_rpc(server: Server) -> None:
    done = grpcurl(server, "describe", SERVICE)
    assert done.returncode == 0, done.stderr
    rpcs = ["CacheFile", "GetFile", "GetMetadata", "CacheAnalysis", "GetAnalysis",
            "InvalidateFile", "InvalidateAnalysis", "ClearSession", "BatchGetFiles",
            "BatchCacheFiles", "GetStats", "GetServerInfo"]  # fmt: skip
    for rpc in rpcs:
        assert f"rpc {rpc} ( .contextstore.v1.{rpc}Request )" in done.stdout


def test_every_rpc_through_reflection(server: Server) -> None:
    s = {"session_id": "curl"}
    meta = call(
        server, "CacheFile", {**s, "path": "a.py", "content": "aGVsbG8=", "labels": {"k": "v"}}
    )
    assert meta["metadata"]["size"] == "5" and meta["metadata"]["labels"] == {"k": "v"}
    assert call(server, "GetFile", {**s, "path": "a.py"})["content"] == "aGVsbG8="
    assert call(server, "GetMetadata", {**s, "path": "a.py"})["metadata"]["path"] == "a.py"
    analysis = {**s, "path": "a.py", "analysis_type": "ast"}
    assert "cached_at" in call(server, "CacheAnalysis", {**analysis, "result": "dA=="})
    assert call(server, "GetAnalysis", analysis)["result"] == "dA=="
    assert call(server, "InvalidateAnalysis", analysis)["analyses_removed"] == "1"
    batch = [{"path": "b.py", "content": "Yg=="}, {"path": "c.py", "content": "Yw=="}]
    assert len(call(server, "BatchCacheFiles", {**s, "files": batch})["metadata"]) == 2
    files = call(server, "BatchGetFiles", {**s, "paths": ["b.py", "nope", "c.py"]})["files"]
    assert [f.get("found", False) for f in files] == [True, False, True]
    assert call(server, "InvalidateFile", {**s, "path": "b.py"})["files_removed"] == "1"
    assert call(server, "GetStats", s)["files"] == "2"
    assert call(server, "GetServerInfo", {})["backend"] == "memory"
    assert call(server, "ClearSession", s)["files_removed"] == "2"


@pytest.mark.parametrize(
    ("rpc", "body", "code", "detail"),
    [
        ("GetFile", {"path": "missing"}, "NotFound", None),
        ("GetFile", {"path": ""}, "InvalidArgument", '"field": "path"'),
        ("CacheAnalysis", {"path": "a", "analysis_type": ""}, "InvalidArgument", "analysis_type"),
    ],
)
def test_errors_carry_status_and_details(
    server: Server, rpc: str, body: dict[str, Any], code: str, detail: str | None
) -> None:
    done = grpcurl(server, f"{SERVICE}/{rpc}", flags=("-d", json.dumps(body)))
    assert done.returncode != 0
    assert f"Code: {code}" in done.stderr
    if detail is not None:
        assert "google.rpc.BadRequest" in done.stderr and detail in done.stderr


@pytest.mark.parametrize("service", ["", SERVICE])
def test_health_probe_reports_serving(server: Server, service: str) -> None:
    done = _run("grpc-health-probe", f"-addr={server.address}", f"-service={service}")
    assert done.returncode == 0, done.stderr
    assert "SERVING" in done.stdout + done.stderr


def test_health_probe_fails_for_a_stopped_server(server: Server) -> None:
    server.stop(grace=0)
    done = _run("grpc-health-probe", f"-addr={server.address}", "-connect-timeout=1s")
    assert done.returncode != 0
