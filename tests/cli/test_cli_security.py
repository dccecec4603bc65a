"""The real ``contextstore`` command over TLS and mTLS with a token, and ``auth hash-token``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from certs import Pki
from cli.cli_support import run
from client.secure_servers import Gate
from support import clean_env

from contextstore.cli import exits
from contextstore.server.app import Server

Start = Callable[..., Server]
WRITER, READER = "writer-token", "reader-token"


@pytest.fixture
def gate() -> Gate:
    return Gate({WRITER: None, READER: frozenset({"GetFile", "GetServerInfo"})})


@pytest.fixture
def mtls_flags(pki: Pki) -> list[str]:
    agent = pki.client("agent-7")
    return [
        "--tls-ca",
        str(pki.ca_file),
        "--tls-cert",
        str(agent.cert),
        "--tls-key",
        str(agent.key),
    ]


def test_put_and_get_over_mtls_with_the_token_from_the_environment(
    pki: Pki, secure: Start, gate: Gate, mtls_flags: list[str]
) -> None:
    server = secure(pki, gate=gate, mtls=True)
    env = clean_env(CONTEXTSTORE_TOKEN=WRITER)
    put = run("put", "a.py", "--session", "s", "--target", server.address, *mtls_flags,
              stdin=b"hello", env=env)  # fmt: skip
    assert put.returncode == 0, put.stderr.decode()
    got = run("get", "a.py", "--session", "s", "--target", server.address, *mtls_flags, env=env)
    assert (got.returncode, got.stdout) == (0, b"hello"), got.stderr.decode()
    assert gate.bearers() == {f"Bearer {WRITER}"}


def test_tls_settings_from_the_environment_and_the_token_from_a_file(
    pki: Pki, secure: Start, gate: Gate, tmp_path: Path
) -> None:
    server = secure(pki, gate=gate, mtls=True)
    agent = pki.client("agent-7")
    token_file = tmp_path / "token"
    token_file.write_text(f"{WRITER}\n", encoding="utf-8")  # the newline an editor leaves
    env = clean_env(
        CONTEXTSTORE_TARGET=server.address, CONTEXTSTORE_TLS_CA=str(pki.ca_file),
        CONTEXTSTORE_TLS_CERT=str(agent.cert), CONTEXTSTORE_TLS_KEY=str(agent.key),
    )  # fmt: skip
    done = run("put", "b.py", "--token-file", str(token_file), stdin=b"x", env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert gate.bearers() == {f"Bearer {WRITER}"}


def test_refusals_are_one_line_with_their_own_exit_status(
    pki: Pki, secure: Start, gate: Gate
) -> None:
    server = secure(pki, gate=gate)
    flags = ["--target", server.address, "--tls-ca", str(pki.ca_file)]
    nobody = run("get", "a.py", *flags, env=clean_env())
    assert nobody.returncode == exits.for_status(grpc.StatusCode.UNAUTHENTICATED) == 80
    assert nobody.stderr.decode().count("\n") == 1
    assert re.match(
        r"contextstore get: UNAUTHENTICATED: .*CONTEXTSTORE_TOKEN", nobody.stderr.decode()
    )
    reader = run("put", "a.py", *flags, "--token", READER, stdin=b"x", env=clean_env())
    assert reader.returncode == exits.for_status(grpc.StatusCode.PERMISSION_DENIED) == 71
    assert (
        reader.stderr.decode()
        == "contextstore put: PERMISSION_DENIED: this token may not call CacheFile\n"
    )


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--tls-ca", "/nonexistent/ca.pem"], "TLS ca file: No such file or directory"),
        (["--tls-cert", "/x.pem"], "--tls-cert and --tls-key go together"),
        (["--token", "a", "--token-file", "/x"], "--token or --token-file, not both"),
        (["--token-file", "/nonexistent/token"], "--token-file: cannot read"),
        (["--token", "two words"], "token: must be printable ASCII"),
    ],
)
def test_bad_credentials_flags_are_usage_errors(flags: list[str], said: str) -> None:
    done = run("get", "a.py", "--target", "127.0.0.1:1", *flags, env=clean_env())
    assert done.returncode == exits.USAGE, done.stderr.decode()
    assert said in done.stderr.decode() and b"Traceback" not in done.stderr


# -- auth hash-token -----------------------------------------------------------------


def test_hash_token_prints_the_sha256_of_stdin_without_its_newline() -> None:
    for stdin in (b"s3cret\n", b"s3cret"):
        done = run("auth", "hash-token", stdin=stdin, env=clean_env())
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout.decode() == hashlib.sha256(b"s3cret").hexdigest() + "\n"
    # Only one newline is the terminal's: the token keeps the other, and no client could send
    # it, so it is refused rather than silently hashed as "s3cret".
    done = run("auth", "hash-token", stdin=b"s3cret\n\n", env=clean_env())
    assert (done.returncode, done.stdout) == (exits.USAGE, b"")


@pytest.mark.parametrize(
    ("stdin", "said"),
    [
        (b"\n", "no token on stdin"),
        (b"\xff\xfe", "not UTF-8"),
        (b"two words\n", "printable ASCII without spaces"),  # no client could send it
    ],
)
def test_hash_token_refuses_what_is_no_token(stdin: bytes, said: str) -> None:
    done = run("auth", "hash-token", stdin=stdin, env=clean_env())
    assert done.returncode == exits.USAGE
    assert said in done.stderr.decode() and b"Traceback" not in done.stderr


def test_generate_prints_a_new_token_and_its_tokens_file_line() -> None:
    outputs = [run("auth", "hash-token", "--generate", env=clean_env()) for _ in range(2)]
    tokens = []
    for done in outputs:
        assert done.returncode == 0, done.stderr.decode()
        match = re.fullmatch(r'token: ([A-Za-z0-9_-]{43})\ntoken_sha256 = "([0-9a-f]{64})"\n',
                             done.stdout.decode())  # fmt: skip
        assert match, done.stdout
        token, digest = match.groups()
        assert digest == hashlib.sha256(token.encode()).hexdigest()
        tokens.append(token)
    assert tokens[0] != tokens[1]


def test_tls_alone_trusts_the_default_roots(pki: Pki, secure: Start) -> None:
    # gRPC's default roots, pointed at the test CA: --tls must mean TLS without --tls-ca.
    server = secure(pki)
    env = clean_env(GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(pki.ca_file))
    plain = run("info", "--json", "--target", server.address, env=env)
    assert plain.returncode == exits.for_status(grpc.StatusCode.UNAVAILABLE)
    done = run("info", "--json", "--tls", "--target", server.address, env=env)
    assert done.returncode == 0, done.stderr.decode()


def test_the_real_auth_a_hashed_token_a_scope_and_a_certificate_identity(
    pki: Pki, secure: Start, tmp_path: Path, mtls_flags: list[str]
) -> None:
    # The token comes from `auth hash-token --generate`, its line pasted into the tokens file.
    made = run("auth", "hash-token", "--generate", env=clean_env()).stdout.decode()
    token, line = made.splitlines()[0].removeprefix("token: "), made.splitlines()[1]
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[identity]]\nname = "ci"\nrole = "write"\nscope = ["team-a/"]\n{line}\n'
        '[[identity]]\nname = "agent"\nrole = "read"\ncert_subject = "agent-7"\n',
        encoding="utf-8",
    )
    server = secure(pki, mtls=True, auth_tokens=tokens)
    flags = ["--target", server.address, *mtls_flags]
    with_token = clean_env(CONTEXTSTORE_TOKEN=token)

    put = run("put", "a.py", "--session", "team-a/1", *flags, stdin=b"hi", env=with_token)
    assert put.returncode == 0, put.stderr.decode()
    outside = run("put", "a.py", "--session", "team-b/1", *flags, stdin=b"x", env=with_token)
    assert outside.returncode == exits.for_status(grpc.StatusCode.PERMISSION_DENIED)
    assert outside.stderr.decode().startswith("contextstore put: PERMISSION_DENIED: ")
    assert outside.stderr.decode().count("\n") == 1
    # Without the token, the certificate's subject selects "agent", a reader.
    got = run("get", "a.py", "--session", "team-a/1", *flags, env=clean_env())
    assert (got.returncode, got.stdout) == (0, b"hi"), got.stderr.decode()
    denied = run("put", "b.py", "--session", "team-a/1", *flags, stdin=b"x", env=clean_env())
    assert denied.returncode == exits.for_status(grpc.StatusCode.PERMISSION_DENIED)
    wrong = run("get", "a.py", "--session", "team-a/1", *flags, "--token", "guess",
                env=clean_env())  # fmt: skip
    assert wrong.returncode == exits.for_status(grpc.StatusCode.UNAUTHENTICATED)
    assert "CONTEXTSTORE_TOKEN" in wrong.stderr.decode()
