"""The conformance suite, all five languages, against a server with mTLS and a tokens file.

Every runner connects with TLS, trusting the test CA, and presents a client
certificate whose subject is an admin identity: the whole suite must pass
unchanged through it. Then ``secure_cases.json`` runs steps as other
identities (``"as"``: a token the runner was given with ``--identity``), so
every language shows UNAUTHENTICATED for an unknown token, PERMISSION_DENIED
for a role and for a scope, and a scoped identity's GetStats.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from certs import Pki
from conformance.harness import (
    CASES,
    HERE,
    LANGUAGES,
    Reports,
    check_case,
    check_every_case_once,
    reports,
    suite_config,
)
from conformance.matching import expand

from contextstore.server.app import Server
from contextstore.server.wiring import build_server

SECURE_SUITE = expand(json.loads((HERE / "secure_cases.json").read_text(encoding="utf-8")))
SECURE_CASES = {case["name"]: case for case in SECURE_SUITE["cases"]}
ADMIN_SUBJECT = "conformance-admin"
TOKENS = {"reader": "reader-token-1", "team-a": "team-a-token-2", "stranger": "stranger-token-3"}
IDENTITIES = f"""
[[identity]]
name = "admin"
cert_subject = "{ADMIN_SUBJECT}"
role = "admin"

[[identity]]
name = "reader"
token_sha256 = "{hashlib.sha256(TOKENS["reader"].encode()).hexdigest()}"
role = "read"

[[identity]]
name = "team-a"
token_sha256 = "{hashlib.sha256(TOKENS["team-a"].encode()).hexdigest()}"
role = "write"
scope = ["team-a/"]
"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[str]]]:
    """A server with mTLS and tokens, and the runner flags that reach it as each identity."""
    directory = tmp_path_factory.mktemp("secure")
    pki = Pki.make(directory)
    admin = pki.client(ADMIN_SUBJECT)
    tokens = directory / "tokens.toml"
    tokens.write_text(IDENTITIES, encoding="utf-8")
    server = build_server(
        suite_config(
            tls_cert=str(pki.server.cert),
            tls_key=str(pki.server.key),
            tls_client_ca=str(pki.ca_file),
            auth_tokens=str(tokens),
        )
    )
    server.start()
    flags = [
        "--tls-ca",
        str(pki.ca_file),
        "--tls-cert",
        str(admin.cert),
        "--tls-key",
        str(admin.key),
    ]
    for name, token in TOKENS.items():
        flags += ["--identity", f"{name}={token}"]
    yield server, flags
    server.stop(grace=0)


@pytest.fixture(scope="module")
def suite(secured: tuple[Server, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Reports:
    server, flags = secured
    return reports([server.address], tmp_path_factory.mktemp("suite"), flags=flags)


@pytest.fixture(scope="module")
def auth_cases(
    secured: tuple[Server, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> Reports:
    server, flags = secured
    directory = tmp_path_factory.mktemp("auth")
    return reports([server.address], directory, cases=SECURE_SUITE["cases"], flags=flags)


def _steps_as(cases: dict[str, Any]) -> set[str]:
    return {step["as"] for case in cases.values() for step in case["steps"] if "as" in step}


def test_secure_cases_use_only_the_identities_given_to_runners() -> None:
    assert _steps_as(SECURE_CASES) == set(TOKENS)
    assert not set(SECURE_CASES) & set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("language", LANGUAGES)
def test_case_over_mtls_as_the_admin_certificate(suite: Reports, language: str, name: str) -> None:
    check_case(suite[language], language, name)


@pytest.mark.parametrize("name", sorted(SECURE_CASES))
@pytest.mark.parametrize("language", LANGUAGES)
def test_auth_case(auth_cases: Reports, language: str, name: str) -> None:
    check_case(auth_cases[language], language, name, SECURE_CASES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_runner_reports_every_auth_case_once(auth_cases: Reports, language: str) -> None:
    check_every_case_once(auth_cases[language], SECURE_CASES)


def test_plain_runner_without_credentials_is_refused(
    secured: tuple[Server, list[str]], tmp_path: Path
) -> None:
    """A runner that trusts the CA but has no certificate cannot even finish the handshake."""
    server, flags = secured
    ca_only = flags[:2]
    by_case = reports([server.address], tmp_path, cases=SECURE_SUITE["cases"][:1], flags=ca_only)
    outcomes = by_case["python"]
    report = outcomes.get(SECURE_SUITE["cases"][0]["name"], {})
    assert "setup_error" in report, outcomes
