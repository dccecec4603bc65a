"""Running ``contextstore bench`` as a real subprocess and reading its JSON report."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import clean_env, console_script

RUN_TIMEOUT = 90.0  # a hung run fails the test instead of the whole session


@dataclass(frozen=True)
class BenchRun:
    status: int
    stdout: str
    stderr: str
    report: dict[str, Any]


def run_bench(
    tmp_path: Path, *args: str, prefix: Sequence[str] = (), name: str = "report"
) -> BenchRun:
    """``[PREFIX] contextstore bench --quiet --json FILE ARGS``; its status, output and report."""
    report = tmp_path / f"{name}.json"
    report.unlink(missing_ok=True)
    done = subprocess.run(
        [*prefix, console_script(), "bench", "--quiet", "--json", str(report), *args],
        capture_output=True, text=True, env=clean_env(), timeout=RUN_TIMEOUT, check=False,
    )  # fmt: skip
    assert report.exists(), f"no report; exit {done.returncode}: {done.stderr}"
    return BenchRun(done.returncode, done.stdout, done.stderr, json.loads(report.read_text()))
