"""Running the conformance runners and judging their reports: what test modules share.

A module that runs the suite against its own servers (one server, the same
server twice, several servers over one shared store) needs three things:

    config = suite_config(backend="redis", ...)    # the suite's server settings
    outcomes = reports([a.address, b.address], tmp_dir)
    check_case(outcomes[language], language, name)  # per case, as test_conformance does

With several targets, each runner sends step k of every case to its client k
mod n, and the setup ``clear_session`` calls to the first (README.md beside
this file). Runners go one after another: cases clear the namespaces they use,
so two runners at once would clear each other's state.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from conformance.matching import expand, judge

from contextstore.server.config import ServerConfig

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SUITE = expand(json.loads((HERE / "cases.json").read_text(encoding="utf-8")))
CASES = {case["name"]: case for case in SUITE["cases"]}
RUNNERS: dict[str, list[str]] = {
    "python": [sys.executable, str(HERE / "python_runner.py")],
    **{
        lang: [str(ROOT / "client" / lang / "run-conformance")]
        for lang in ("go", "java", "rust", "typescript")
    },
}
LANGUAGES = sorted(RUNNERS)
RUNNER_TIMEOUT_SECONDS = 300

ByCase = dict[str, dict[str, Any]]


def suite_config(**overrides: Any) -> ServerConfig:
    """A server with the suite's ``server`` settings, on a free port, plus ``overrides``."""
    return dataclasses.replace(
        ServerConfig(listen="127.0.0.1:0"), **{**SUITE["server"], **overrides}
    )


def runner_input(cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What runners read: the cases without their expectations."""
    return {
        "cases": [
            {
                "name": case["name"],
                "sessions": case["sessions"],
                "steps": [
                    {key: step[key] for key in ("op", "session", "args", "as") if key in step}
                    for step in case["steps"]
                ],
            }
            for case in cases
        ]
    }


def write_cases(path: Path, cases: Sequence[dict[str, Any]]) -> Path:
    """``cases`` (generators already expanded) as a runner's ``--cases`` file at ``path``."""
    path.write_text(json.dumps(runner_input(cases)), encoding="utf-8")
    return path


def run_runner(
    language: str, targets: Sequence[str], cases_file: Path, flags: Sequence[str] = ()
) -> ByCase:
    """One runner, ``--target`` once per target, and ``flags`` (TLS, tokens); its report per case.

    A runner that exits non-zero or prints nothing is reported under ``<runner>``.
    """
    target_flags = [arg for target in targets for arg in ("--target", target)]
    done = subprocess.run(
        [*RUNNERS[language], *target_flags, *flags, "--cases", str(cases_file)],
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


class Reports:
    """Each language's runner, run once, when a test first asks for its reports."""

    def __init__(self, targets: Sequence[str], cases_file: Path, flags: Sequence[str] = ()) -> None:
        self._targets, self._cases_file, self._flags = list(targets), cases_file, list(flags)
        self._by_language: dict[str, ByCase] = {}

    def __getitem__(self, language: str) -> ByCase:
        if language not in self._by_language:
            self._by_language[language] = run_runner(
                language, self._targets, self._cases_file, self._flags
            )
        return self._by_language[language]


def reports(
    targets: Sequence[str],
    directory: Path,
    *,
    cases: Sequence[dict[str, Any]] = SUITE["cases"],
    flags: Sequence[str] = (),
) -> Reports:
    """``cases`` (the whole suite), run by each language's runner against ``targets``, lazily."""
    return Reports(targets, write_cases(directory / "steps.json", cases), flags)


def check_case(by_case: ByCase, language: str, name: str, cases: Mapping[str, Any] = CASES) -> None:
    """Fail unless the runner's report on case ``name`` meets every expectation in ``cases``."""
    report = by_case.get(name)
    assert report is not None, f"{language} reported nothing: {by_case.get('<runner>')}"
    assert "setup_error" not in report, f"{language} setup: {report['setup_error']}"
    steps = cases[name]["steps"]
    got = report.get("outcomes", [])
    assert len(got) == len(steps), f"{language}: {len(got)} outcomes for {len(steps)} steps"
    for index, (step, outcome) in enumerate(zip(steps, got, strict=True)):
        problem = judge(step["expect"], outcome)
        assert problem is None, f"{language}, step {index} ({step['op']}): {problem}"


def check_every_case_once(by_case: ByCase, cases: Mapping[str, Any] = CASES) -> None:
    assert sorted(by_case) == sorted(cases), by_case.get("<runner>")
