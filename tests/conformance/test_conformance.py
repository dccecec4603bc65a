"""Runs every case of cases.json through every language's typed client.

Each language's runner is a real program (see README.md beside this file)
that calls its typed client and prints what came back; the outcomes are
judged here, by ``matching``, the same way for all five. The server is
started here on a free port with the file's ``server`` settings. Runners go
one after another: cases clear the namespaces they use, so two runners at once
would clear each other's state.
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
from conformance.matching import expand, judge

from contextstore.server.app import Server
from contextstore.server.config import ServerConfig

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SUITE = expand(json.loads((HERE / "cases.json").read_text(encoding="utf-8")))
CASES = {case["name"]: case for case in SUITE["cases"]}
OPERATIONS = {
    "cache_file", "get_file", "get_metadata", "cache_analysis", "get_analysis", "invalidate_file",
    "invalidate_analysis", "invalidate_analyses", "clear_session", "batch_get_files",
    "batch_cache_files", "stats", "store_stats", "server_info",
}  # fmt: skip
WRITES = {"cache_file", "cache_analysis", "batch_cache_files"}

RUNNERS: dict[str, list[str]] = {
    "python": [sys.executable, str(HERE / "python_runner.py")],
    **{
        lang: [str(ROOT / "client" / lang / "run-conformance")]
        for lang in ("go", "java", "rust", "typescript")
    },
}
RUNNER_TIMEOUT_SECONDS = 300


def runner_input() -> dict[str, Any]:
    """What runners read: the cases without their expectations, generators expanded."""
    return {
        "cases": [
            {
                "name": case["name"],
                "sessions": case["sessions"],
                "steps": [
                    {key: step[key] for key in ("op", "session", "args") if key in step}
                    for step in case["steps"]
                ],
            }
            for case in SUITE["cases"]
        ]
    }


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    config = dataclasses.replace(ServerConfig(listen="127.0.0.1:0"), **SUITE["server"])
    server = Server(config)
    server.start()
    yield server.address
    server.stop(grace=0)


class Reports:
    """Each language's runner, run once, when a test first asks for its reports."""

    def __init__(self, target: str, steps_file: Path) -> None:
        self._target, self._steps_file = target, steps_file
        self._by_language: dict[str, dict[str, dict[str, Any]]] = {}

    def __getitem__(self, language: str) -> dict[str, dict[str, Any]]:
        if language not in self._by_language:
            command = RUNNERS[language]
            self._by_language[language] = _run(command, self._target, self._steps_file)
        return self._by_language[language]


@pytest.fixture(scope="module")
def outcomes(target: str, tmp_path_factory: pytest.TempPathFactory) -> Reports:
    """Per language, the runner's report per case (``-k "go]"`` runs only Go's)."""
    steps_file = tmp_path_factory.mktemp("conformance") / "steps.json"
    steps_file.write_text(json.dumps(runner_input()), encoding="utf-8")
    return Reports(target, steps_file)


def _run(command: list[str], target: str, steps_file: Path) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [*command, "--target", target, "--cases", str(steps_file)],
        capture_output=True,
        text=True,
        timeout=RUNNER_TIMEOUT_SECONDS,
        cwd=ROOT,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    by_case = {line["case"]: line for line in lines}
    if done.returncode != 0 or not by_case:
        by_case["<runner>"] = {"error": f"exit {done.returncode}: {done.stderr[-3000:]}"}
    return by_case


def test_cases_are_well_formed() -> None:
    # A runner clears the declared sessions before a case; one that writes to
    # an undeclared session would leak state into the next case.
    assert len(CASES) == len(SUITE["cases"]), "case names repeat"
    for case in SUITE["cases"]:
        for step in case["steps"]:
            assert step["op"] in OPERATIONS, f"{case['name']}: unknown op {step['op']}"
            assert len(step["expect"]) == 1 and set(step["expect"]) <= {"result", "miss", "error"}
        written = {
            step.get("session", "")
            for step in case["steps"]
            if step["op"] in WRITES and "result" in step["expect"]
        }
        assert written <= set(case["sessions"]), f"{case['name']} writes undeclared sessions"


def test_every_operation_is_exercised() -> None:
    used = {step["op"] for case in SUITE["cases"] for step in case["steps"]}
    assert used == OPERATIONS


@pytest.mark.parametrize("language", sorted(RUNNERS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_case(outcomes: Reports, language: str, name: str) -> None:
    report = outcomes[language].get(name)
    assert report is not None, f"{language} reported nothing: {outcomes[language].get('<runner>')}"
    assert "setup_error" not in report, f"{language} setup: {report['setup_error']}"
    steps = CASES[name]["steps"]
    got = report.get("outcomes", [])
    assert len(got) == len(steps), f"{language}: {len(got)} outcomes for {len(steps)} steps"
    for index, (step, outcome) in enumerate(zip(steps, got, strict=True)):
        problem = judge(step["expect"], outcome)
        assert problem is None, f"{language}, step {index} ({step['op']}): {problem}"


@pytest.mark.parametrize("language", sorted(RUNNERS))
def test_runner_reports_every_case_once(outcomes: Reports, language: str) -> None:
    assert sorted(outcomes[language]) == sorted(CASES), outcomes[language].get("<runner>")
