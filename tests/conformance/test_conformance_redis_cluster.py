"""The conformance suite, all five languages, against two servers sharing one Redis Cluster.

Each runner gets both servers as two ``--target``s, so consecutive steps of
every case go to alternating servers: a case passes only if what one server
wrote, the other reads at once. The expectations are the suite's own, but for
what GetServerInfo says of the backend.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any

import pytest
from conformance.harness import CASES, LANGUAGES, Reports, check_case, reports, suite_config

from contextstore.server.app import Server


def _on_redis(cases: dict[str, Any]) -> dict[str, Any]:
    cases = copy.deepcopy(cases)
    for step in cases["server_info"]["steps"]:
        result = step["expect"]["result"]
        result["backend"] = "redis"
        result["backend_properties"] = {"mode": "cluster"}
    return cases


REDIS_CASES = _on_redis(CASES)


@pytest.fixture(scope="module")
def servers(redis_cluster: Any) -> Iterator[list[Server]]:
    config = suite_config(
        backend="redis", redis_url=redis_cluster.url, redis_key_prefix=f"conformance{os.getpid()}:"
    )
    started = [Server(config), Server(config)]
    for server in started:
        server.start()
    yield started
    for server in started:
        server.stop(grace=0)


@pytest.fixture(scope="module")
def outcomes(servers: list[Server], tmp_path_factory: pytest.TempPathFactory) -> Reports:
    return reports([s.address for s in servers], tmp_path_factory.mktemp("cluster-conformance"))


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("language", LANGUAGES)
def test_case_across_two_servers_on_one_cluster(
    outcomes: Reports, language: str, name: str
) -> None:
    check_case(outcomes[language], language, name, REDIS_CASES)
