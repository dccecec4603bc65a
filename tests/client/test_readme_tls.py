"""The README's TLS + token example runs as written, against a real mTLS server."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from certs import Pki
from client.secure_servers import Gate

from contextstore.client import TOKEN_ENV
from contextstore.server.app import Server

README = Path(__file__).resolve().parents[2] / "README.md"
TARGET = "cache.internal:50051"


def test_the_tls_example_runs(
    pki: Pki, secure: Callable[..., Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    code = next((block for block in blocks if "Tls(" in block), None)
    assert code and TARGET in code, "the README lost its TLS example"
    gate = Gate({"read-only": frozenset({"GetFile"})})
    server = secure(pki, gate=gate, mtls=True)
    agent = pki.client("agent-7")
    for source, name in ((pki.ca_file, "ca.pem"), (agent.cert, "agent-7.pem"),
                         (agent.key, "agent-7-key.pem")):  # fmt: skip
        shutil.copy(source, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TOKEN_ENV, "read-only")
    port = server.address.rpartition(":")[2]

    exec(compile(code.replace(TARGET, f"localhost:{port}"), "README.md", "exec"), {})

    assert capsys.readouterr().out == "this token may not call CacheFile\n"
    assert gate.bearers() == {"Bearer read-only"}
