"""Runs every case of cases.json through every language's typed client.

Each language's runner is a real program (see README.md beside this file)
that calls its typed client and prints what came back; the outcomes are
judged here, by ``matching``, the same way for all five. The server is
started here on a free port with the file's ``server`` settings. The suite
runs twice per language: against that server, and against it given as two
``--target``s (two clients taking turns by step); ``harness`` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conformance.harness import (
    CASES,
    LANGUAGES,
    SUITE,
    Reports,
    check_case,
    check_every_case_once,
    reports,
    run_runner,
    suite_config,
    write_cases,
)

from contextstore.client import ContextStoreClient
from contextstore.server.app import Server

OPERATIONS = {
    "cache_file", "get_file", "get_metadata", "cache_analysis", "get_analysis", "invalidate_file",
    "invalidate_analysis", "invalidate_analyses", "clear_session", "batch_get_files",
    "batch_cache_files", "list_files", "list_files_page", "invalidate_prefix", "watch", "stats",
    "store_stats", "server_info",
}  # fmt: skip
WRITES = {"cache_file", "cache_analysis", "batch_cache_files"}


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    server = Server(suite_config())
    server.start()
    yield server.address
    server.stop(grace=0)


@pytest.fixture(scope="module")
def outcomes(target: str, tmp_path_factory: pytest.TempPathFactory) -> Reports:
    """Per language, the runner's report per case (``-k "go]"`` runs only Go's)."""
    return reports([target], tmp_path_factory.mktemp("conformance"))


@pytest.fixture(scope="module")
def outcomes_two_targets(target: str, tmp_path_factory: pytest.TempPathFactory) -> Reports:
    """The same, from runners given the one server as two targets: steps alternate clients."""
    return reports([target, target], tmp_path_factory.mktemp("conformance-two"))


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


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_case(outcomes: Reports, language: str, name: str) -> None:
    check_case(outcomes[language], language, name)


@pytest.mark.parametrize("language", LANGUAGES)
def test_runner_reports_every_case_once(outcomes: Reports, language: str) -> None:
    check_every_case_once(outcomes[language])


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_case_from_two_clients(outcomes_two_targets: Reports, language: str, name: str) -> None:
    check_case(outcomes_two_targets[language], language, name)


@pytest.mark.parametrize("language", LANGUAGES)
def test_two_clients_report_every_case_once(outcomes_two_targets: Reports, language: str) -> None:
    check_every_case_once(outcomes_two_targets[language])


# -- the runners' alternation, where it shows: two servers that share nothing ------

ALTERNATION = {
    "name": "alternation",
    "sessions": ["s1"],
    "steps": [
        {"op": "get_file", "session": "s1", "args": {"path": "on-a"}},  # a: cleared
        {"op": "get_file", "session": "s1", "args": {"path": "on-b"}},  # b: never cleared
        {"op": "cache_file", "session": "s1", "args": {"path": "new", "content": "eA=="}},  # a
        {"op": "get_file", "session": "s1", "args": {"path": "new"}},  # b: not there
        {"op": "get_file", "session": "s1", "args": {"path": "new"}},  # a: there
    ],
}
# What each step gives when step k goes to server k mod 2 and the setup clear to the first.
ALTERNATED = ["miss", "result", "result", "miss", "result"]


def _kind(outcome: dict[str, Any]) -> str:
    return next(iter(outcome))


@pytest.mark.parametrize("language", LANGUAGES)
def test_steps_go_to_the_targets_in_turn_and_setup_to_the_first(
    start_server: Callable[..., Server], tmp_path: Path, language: str
) -> None:
    a, b = start_server(), start_server()
    for server, path in ((a, "on-a"), (b, "on-b")):
        with ContextStoreClient(server.address, timeout=10) as client:
            client.session("s1").cache_file(path, b"before the case")

    by_case = run_runner(
        language, [a.address, b.address], write_cases(tmp_path / "cases.json", [ALTERNATION])
    )

    report = by_case.get("alternation")
    assert report is not None and "outcomes" in report, by_case
    assert [_kind(outcome) for outcome in report["outcomes"]] == ALTERNATED, report
