"""Every language's typed client balances one target that lists two servers.

One runner, one ``--target A,B`` (one client), two in-process servers that
share nothing: each counts its own misses, so a miss on both shows that calls
from one client went to both (``round_robin``), where gRPC's default policy
would have sent them all to the first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conformance.harness import LANGUAGES, run_runner, write_cases

from contextstore.client import ContextStoreClient
from contextstore.server.app import Server

CALLS = 40
# No sessions: a setup clear_session would be one more call, on one server.
MISSES = {
    "name": "misses",
    "sessions": [],
    "steps": [{"op": "get_file", "args": {"path": f"missing/{i}"}} for i in range(CALLS)],
}


def _misses(server: Server) -> int:
    with ContextStoreClient(server.address, timeout=10) as client:
        return client.store_stats().misses


@pytest.mark.parametrize("language", LANGUAGES)
def test_one_client_spreads_its_calls_over_a_list_of_two_servers(
    start_server: Callable[..., Server], tmp_path: Path, language: str
) -> None:
    a, b = start_server(), start_server()

    by_case = run_runner(
        language, [f"{a.address},{b.address}"], write_cases(tmp_path / "cases.json", [MISSES])
    )

    report = by_case.get("misses")
    assert report is not None and "outcomes" in report, by_case
    assert report["outcomes"] == [{"miss": True}] * CALLS
    assert _misses(a) > 0 and _misses(b) > 0, (_misses(a), _misses(b))
    assert _misses(a) + _misses(b) == CALLS
