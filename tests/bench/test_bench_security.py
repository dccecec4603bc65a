"""``contextstore bench`` over mTLS with a token: every worker's channels use them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from bench.runs import RUN_TIMEOUT, run_bench
from certs import Pki
from client.secure_servers import Gate
from support import clean_env, console_script

from contextstore.server.app import Server

TOKEN = "bench-token"
SHORT = ("--duration", "0.5", "--warmup", "0", "--keys", "20", "--mix", "get=80,cache=20")


def test_a_short_run_over_mtls_with_a_token(
    pki: Pki, secure: Callable[..., Server], tmp_path: Path
) -> None:
    gate = Gate({TOKEN: None})  # a call without the token would be UNAUTHENTICATED
    server = secure(pki, gate=gate, mtls=True)
    agent = pki.client("bench")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")

    done = run_bench(
        tmp_path, "--target", server.address, "--procs", "2", "--tls-ca", str(pki.ca_file),
        "--tls-cert", str(agent.cert), "--tls-key", str(agent.key),
        "--token-file", str(token_file), *SHORT,
    )  # fmt: skip

    assert done.status == 0, done.stderr
    report = done.report
    assert report["failed"] == 0 and report["total"]["calls"] > 0
    assert gate.bearers() == {f"Bearer {TOKEN}"}
    assert report["config"]["token"] is True and report["config"]["tls"]["ca"] == str(pki.ca_file)
    assert TOKEN not in json.dumps(report)  # the report says a token was sent, never which


def test_a_missing_certificate_file_stops_the_run_before_any_load(tmp_path: Path) -> None:
    done = subprocess.run(
        [console_script(), "bench", "--quiet", "--target", "127.0.0.1:1",
         "--tls-ca", str(tmp_path / "missing.pem")],
        capture_output=True, text=True, env=clean_env(), timeout=RUN_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "TLS ca file: No such file or directory" in done.stderr
    assert "Traceback" not in done.stderr
