"""Runs every case of cases.json in every language, against one real server.

Each language's runner is a real program (see README.md beside this file); the
server is started here on a free port with the file's ``server`` settings.
Runners go one after another: cases clear the namespaces they use, so two
runners at once would clear each other's state.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contextstore.server.app import Server
from contextstore.server.config import ServerConfig

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CASES_FILE = HERE / "cases.json"
SUITE = json.loads(CASES_FILE.read_text(encoding="utf-8"))
CASE_NAMES = [case["name"] for case in SUITE["cases"]]

RUNNERS: dict[str, list[str]] = {
    "python": [sys.executable, str(HERE / "python_runner.py")],
    **{
        lang: [str(ROOT / "client" / lang / "run-conformance")]
        for lang in ("go", "java", "rust", "typescript")
    },
}
RUNNER_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    config = dataclasses.replace(ServerConfig(listen="127.0.0.1:0"), **SUITE["server"])
    server = Server(config)
    server.start()
    yield server.address
    server.stop(grace=0)


@pytest.fixture(scope="module")
def results(target: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Each runner's per-case results, run once per language."""
    return {language: _run(command, target) for language, command in RUNNERS.items()}


def _run(command: list[str], target: str) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [*command, "--target", target, "--cases", str(CASES_FILE)],
        capture_output=True,
        text=True,
        timeout=RUNNER_TIMEOUT_SECONDS,
        cwd=ROOT,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    by_case = {line["case"]: line for line in lines}
    if not by_case:
        by_case["<runner>"] = {
            "ok": False,
            "error": f"exit {done.returncode}: {done.stderr[-2000:]}",
        }
    return by_case


WRITES = {"CacheFile", "CacheAnalysis", "BatchCacheFiles"}


def test_case_names_are_unique_and_written_sessions_declared() -> None:
    # A runner clears the declared sessions before a case; one that writes to
    # an undeclared session would leak state into the next case.
    assert len(set(CASE_NAMES)) == len(CASE_NAMES)
    for case in SUITE["cases"]:
        written = {
            step["request"].get("session_id", "")
            for step in case["steps"]
            if step["rpc"] in WRITES and step["expect"]["code"] == "OK"
        }
        assert written <= set(case["sessions"]), f"{case['name']} writes undeclared sessions"


@pytest.mark.parametrize("language", sorted(RUNNERS))
@pytest.mark.parametrize("case", CASE_NAMES)
def test_case(results: dict[str, dict[str, dict[str, Any]]], language: str, case: str) -> None:
    outcome = results[language].get(case) or results[language].get("<runner>")
    assert outcome is not None, f"{language} runner reported nothing for {case}"
    assert outcome["ok"], f"{language}: {outcome.get('error')} (step {outcome.get('step')})"


@pytest.mark.parametrize("language", sorted(RUNNERS))
def test_runner_reports_every_case_once(
    results: dict[str, dict[str, dict[str, Any]]], language: str
) -> None:
    assert sorted(results[language]) == sorted(CASE_NAMES)
