"""``contextstore auth hash-token``: the ``token_sha256`` of a token, so nobody hashes by hand.

The server's tokens file stores each token only as the lower-case hex SHA-256
of its UTF-8 bytes; this is that function, beside a generator of good tokens.
Needs neither a server nor any extra.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import secrets
import sys
from typing import Any

from contextstore.cli import exits
from contextstore.cli.inputs import UsageError
from contextstore.client import TOKEN_ENV
from contextstore.client.security import check_token

HELP = "print the token_sha256 of a token read from stdin, or make a new token (--generate)"
EPILOG = f"""\
examples:
  printf %s "$TOKEN" | contextstore auth hash-token
      prints the hex SHA-256 to paste as token_sha256 in the server's tokens file
  contextstore auth hash-token --generate
      prints a new random token (give it to the client, e.g. as {TOKEN_ENV}) and
      the tokens-file line that matches it:
        token: 3q2-...
        token_sha256 = "9f86d0..."
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    auth = sub.add_parser("auth", help="tokens for the server's --auth-tokens file")
    verbs = auth.add_subparsers(dest="verb", required=True, metavar="VERB")
    hash_token = verbs.add_parser(
        "hash-token", help=HELP, description=HELP, epilog=EPILOG, formatter_class=formatter
    )
    hash_token.add_argument(
        "--generate", action="store_true",
        help="make a random token (secrets.token_urlsafe(32)) instead of reading one",
    )  # fmt: skip
    hash_token.set_defaults(command="auth hash-token")


def token_sha256(token: str) -> str:
    """What the tokens file stores for ``token``: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _read_token() -> str:
    if sys.stdin.isatty():  # typed by a person: not echoed, not left in the scrollback
        return getpass.getpass("token: ")
    text = sys.stdin.buffer.read().decode("utf-8", errors="strict")
    return text.removesuffix("\n").removesuffix("\r")


def hash_token(args: argparse.Namespace) -> int:
    if args.generate:
        token = secrets.token_urlsafe(32)
        print(f"token: {token}")
        print(f'token_sha256 = "{token_sha256(token)}"')
        return exits.OK
    try:
        token = _read_token()
    except UnicodeDecodeError:
        raise UsageError("the token on stdin is not UTF-8") from None
    if not token:
        raise UsageError("no token on stdin (or use --generate to make one)")
    try:  # a token no client could send would be a tokens-file entry nobody can use
        check_token(token)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(token_sha256(token))
    return exits.OK
