"""Running the real ``contextstore`` command as a subprocess, for the CLI's tests."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from support import clean_env, console_script

# Every byte value, CR/LF pairs and a trailing NUL: what a text pipe would mangle.
BINARY = bytes(range(256)) * 3 + b"\r\n\n\r\x00"

CONTEXTSTORE = console_script()


def run(
    *args: str | bytes,
    stdin: bytes = b"",
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``contextstore ARGS``; bounded so a hung CLI fails the test, not the run."""
    return subprocess.run(
        [CONTEXTSTORE, *args],
        input=stdin,
        capture_output=True,
        env=clean_env() if env is None else dict(env),
        cwd=cwd,
        timeout=60,
        check=False,
    )


class Cli:
    """The CLI aimed at one server: ``--target`` is added to every command."""

    def __init__(self, address: str, cwd: Path | None = None) -> None:
        self.address = address
        self.cwd = cwd

    def __call__(
        self, *args: str | bytes, stdin: bytes = b""
    ) -> subprocess.CompletedProcess[bytes]:
        return run(*args, "--target", self.address, stdin=stdin, cwd=self.cwd)

    def inside(self, cwd: Path) -> Cli:
        """The same CLI, run from ``cwd``."""
        return Cli(self.address, cwd)

    def ok(self, *args: str, stdin: bytes = b"") -> bytes:
        done = self(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr.decode()
        assert done.stderr == b""
        return done.stdout

    def text(self, *args: str, stdin: bytes = b"") -> str:
        return self.ok(*args, stdin=stdin).decode()

    def json(self, *args: str, stdin: bytes = b"") -> Any:
        return json.loads(self.ok(*args, "--json", stdin=stdin))

    def fails(self, *args: str | bytes, status: int = 1, stdin: bytes = b"") -> str:
        """Run a command that must fail with exit ``status``; its stderr."""
        done = self(*args, stdin=stdin)
        assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
        assert done.stdout == b""
        assert b"Traceback" not in done.stderr
        return done.stderr.decode()

    def usage_error(self, *args: str | bytes, stdin: bytes = b"") -> str:
        """Run a command that must be refused as a usage error (exit 2); its stderr."""
        return self.fails(*args, status=2, stdin=stdin)


def human_rows(text: str) -> dict[str, str]:
    """``key  value`` lines of the human output, as a dict."""
    found = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        found[key] = value.strip()
    return found
