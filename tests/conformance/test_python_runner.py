"""The Python runner's credentials: --tls-*, --token, --identity and ``"as"`` steps."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from certs import Pki
from client.secure_servers import Gate, secure_servers
from support import clean_env

from contextstore.server.app import Server

RUNNER = Path(__file__).parent / "python_runner.py"
TOKENS = {"w": None, "r": frozenset({"GetFile"}), "x-unused": None}
CASE = {
    "name": "as_steps",
    "sessions": ["s"],
    "steps": [
        {"op": "cache_file", "session": "s", "args": {"path": "a.py", "content": "aGk="}},
        {"op": "cache_file", "session": "s", "as": "reader", "args": {"path": "b", "content": ""}},
        {"op": "get_file", "session": "s", "as": "reader", "args": {"path": "a.py"}},
        {"op": "get_file", "session": "s", "as": "ghost", "args": {"path": "a.py"}},
        {"op": "get_file", "session": "s", "as": "stranger", "args": {"path": "a.py"}},
    ],
}


@pytest.fixture
def secure() -> Iterator[Callable[..., Server]]:
    with secure_servers() as start:
        yield start


def _run(pki: Pki, targets: list[str], tmp_path: Path) -> dict[str, Any]:
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps({"cases": [CASE]}), encoding="utf-8")
    agent = pki.client("conformance")
    done = subprocess.run(
        [sys.executable, str(RUNNER), *(a for t in targets for a in ("--target", t)),
         "--cases", str(cases), "--tls-ca", str(pki.ca_file), "--tls-cert", str(agent.cert),
         "--tls-key", str(agent.key), "--token", "w", "--identity", "reader=r",
         "--identity", "stranger=nobody-knows-me"],
        capture_output=True, text=True, env=clean_env(), timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_as_steps_send_their_identitys_token_to_target_k_mod_n(
    pki: Pki, secure: Callable[..., Server], tmp_path: Path
) -> None:
    gates = Gate(TOKENS), Gate(TOKENS)
    a, b = (secure(pki, gate=gate, mtls=True) for gate in gates)

    report = _run(pki, [a.address, b.address], tmp_path)

    codes = [o.get("error", {}).get("code") for o in report["outcomes"]]
    assert "result" in report["outcomes"][0]
    assert codes[1] == "PERMISSION_DENIED"  # the reader may not write (on b)
    assert report["outcomes"][2]["result"]["content"] == "aGk="  # the reader reads (on a)
    assert "unknown identity 'ghost'" in report["outcomes"][3]["runner_error"]
    assert codes[4] == "UNAUTHENTICATED"
    # Setup and even steps went to a, odd steps to b; each with its own identity's token.
    assert gates[0].bearers() == {"Bearer w", "Bearer r", "Bearer nobody-knows-me"}
    assert gates[1].bearers() == {"Bearer r"}
