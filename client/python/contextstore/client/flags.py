"""The TLS and token flags of every command-line tool, and the ``Tls`` and token they make.

``contextstore`` (client commands), ``contextstore bench`` and the conformance
runner read the same flags and environment variables the same way; argparse is
the standard library's, so the client library stays grpcio and protobuf only.
A token on the command line is visible to every user of the machine (``ps``),
so the help points at ``CONTEXTSTORE_TOKEN`` and ``--token-file`` first.
Mistakes are ``ValueError``s naming the flag (each tool reports them as usage
errors).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from contextstore.client.security import TOKEN_ENV, Tls

ENV: Mapping[str, str] = {"tls_ca": "CONTEXTSTORE_TLS_CA", "tls_cert": "CONTEXTSTORE_TLS_CERT",
       "tls_key": "CONTEXTSTORE_TLS_KEY"}  # fmt: skip


def add_flags(
    parser: argparse.ArgumentParser,
    default: Callable[[Any], Any] = lambda value: value,
    complete: Any = None,
) -> None:
    """``--tls``, ``--tls-ca/-cert/-key``, ``--token``, ``--token-file`` on ``parser``.

    ``default`` maps each default (``SUPPRESS`` for a command's copy of the
    flags, see ``parser._common``); ``complete`` marks file arguments for shtab.
    """
    group = parser.add_argument_group("TLS and credentials")

    def file_flag(flag: str, dest: str, help_text: str) -> None:
        env = ENV[dest]
        action = group.add_argument(
            flag, dest=dest, metavar="FILE", default=default(os.environ.get(env) or None),
            help=f"{help_text} [env {env}]",
        )  # fmt: skip
        action.complete = complete  # type: ignore[attr-defined]

    group.add_argument(
        "--tls", action="store_true", default=default(False),
        help="connect with TLS, trusting the system's CA certificates (implied by --tls-*)",
    )  # fmt: skip
    file_flag("--tls-ca", "tls_ca", "connect with TLS, trusting this PEM CA bundle")
    file_flag("--tls-cert", "tls_cert", "client certificate (PEM) for mTLS, with --tls-key")
    file_flag("--tls-key", "tls_key", "the client certificate's private key (PEM)")
    group.add_argument(
        "--token", default=default(None),
        help="bearer token sent with every call. WARNING: a token given here is visible to"
        f" other users (ps); prefer {TOKEN_ENV} or --token-file [env {TOKEN_ENV}]",
    )  # fmt: skip
    token_file = group.add_argument(
        "--token-file", metavar="FILE", default=default(None),
        help="read the bearer token from FILE (one trailing newline dropped)",
    )  # fmt: skip
    token_file.complete = complete  # type: ignore[attr-defined]


def env_defaults() -> dict[str, Any]:
    """The file flags' values from the environment, for a parser whose defaults are SUPPRESS."""
    return {dest: os.environ.get(env) or None for dest, env in ENV.items()}


def tls(args: argparse.Namespace) -> Tls | None:
    """The ``Tls`` the flags ask for; ``None`` for plaintext."""
    ca, cert, key = args.tls_ca, args.tls_cert, args.tls_key
    if not (args.tls or ca or cert or key):
        return None
    if bool(cert) != bool(key):
        raise ValueError("--tls-cert and --tls-key go together (a client certificate and its key)")
    return Tls(ca=ca or None, cert=cert or None, key=key or None)


def token(args: argparse.Namespace) -> str | None:
    """``--token``, else ``--token-file``'s content, else ``None`` (the client reads the env)."""
    if args.token is not None and args.token_file is not None:
        raise ValueError("give --token or --token-file, not both")
    if args.token_file is None:
        return str(args.token) if args.token is not None else None
    try:
        text = Path(args.token_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"--token-file: cannot read {args.token_file!r}: {error}") from None
    read = text.removesuffix("\n").removesuffix("\r")
    if not read:
        raise ValueError(f"--token-file: {args.token_file!r} is empty")
    return read
