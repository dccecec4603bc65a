"""The ``contextstore`` command: ``serve``, ``bench``, and client commands for scripts.

The client commands need only the client library; ``serve`` needs the
``[server]`` extra, ``bench`` the ``[bench]`` one and ``completion`` the
``[cli]`` one, and each says so when its extra is missing. This is the one
place that starts the server.

No input a user can type ends in a traceback: mistakes are usage errors
(exit 2), failed calls exit with a status that tells a miss from an outage
(``exits``), Ctrl-C exits 130 and a closed stdout 141, quietly.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

import grpc
from google.rpc import status_pb2

from contextstore.cli import auth, exits, render
from contextstore.cli.inputs import UsageError
from contextstore.cli.parser import build_parser
from contextstore.cli.rpc import Connection, RpcFailure, not_found
from contextstore.client import flags

T = TypeVar("T")


def _serve(argv: Sequence[str]) -> int:
    # Imported here: client commands need neither the server nor its extra.
    try:
        from contextstore.server.main import main as serve_main
    except ModuleNotFoundError as error:  # the [server] extra is not installed
        print(f"contextstore serve: {error}", file=sys.stderr)
        return exits.USAGE
    return serve_main(argv)


def _bench(argv: Sequence[str]) -> int:
    # Imported here: client commands need neither the load generator nor its extra.
    try:
        from contextstore.bench.cli import main as bench_main
    except ModuleNotFoundError as error:  # the [bench] extra is not installed
        print(f"contextstore bench: {error}", file=sys.stderr)
        return exits.USAGE
    return bench_main(argv)


def _completion(shell: str) -> int:
    try:
        import shtab
    except ModuleNotFoundError:  # the [cli] extra is not installed
        print(
            "contextstore completion needs the [cli] extra (shtab is missing):"
            " pip install 'contextstore-grpc[cli]'",
            file=sys.stderr,
        )
        return exits.USAGE
    sys.stdout.write(shtab.complete(build_parser(complete_files=shtab.FILE), shell=shell))
    sys.stdout.flush()
    return exits.OK


def _fail(args: argparse.Namespace, error: RpcFailure | UsageError) -> int:
    """Say what failed, on stderr: a line for a person, a google.rpc.Status under --json."""
    if args.json:
        render.write_json(render.status_json(_status(error)), sys.stderr)
    else:
        print(f"contextstore {args.command}: {error}{_hint(error)}", file=sys.stderr)
    if isinstance(error, RpcFailure):
        return exits.for_status(error.code)
    return exits.USAGE


# What to try next, after the server's own words, for a failure the caller can fix.
_HINTS = {
    grpc.StatusCode.UNAUTHENTICATED: " (send a token: CONTEXTSTORE_TOKEN or --token-file FILE;"
    " or a client certificate: --tls-cert/--tls-key)",
}


def _hint(error: RpcFailure | UsageError) -> str:
    return _HINTS.get(error.code, "") if isinstance(error, RpcFailure) else ""


def _status(error: RpcFailure | UsageError) -> status_pb2.Status:
    if isinstance(error, RpcFailure):
        return error.status
    # A usage error found after parsing (unreadable input...) is an invalid argument too.
    return status_pb2.Status(code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message=str(error))


def _checked(read: Callable[[argparse.Namespace], T], args: argparse.Namespace) -> T:
    try:
        return read(args)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _client_command(args: argparse.Namespace) -> int:
    try:
        with Connection(
            args.target, timeout=args.timeout, max_message_bytes=args.max_message_bytes,
            tls=_checked(flags.tls, args), token=_checked(flags.token, args),
        ) as conn:  # fmt: skip
            outcome = args.run(conn, args)
    except (RpcFailure, UsageError) as error:
        return _fail(args, error)
    if outcome.printed:
        pass
    elif args.json:
        render.write_json(render.to_json(outcome.response), sys.stdout)
    else:
        render.human(outcome.value, sys.stdout)
    sys.stdout.flush()  # here, so that a closed stdout is noticed while we can still say so
    if outcome.missing:
        return _fail(args, not_found(", ".join(outcome.missing)))
    return exits.OK


def _run(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        return _serve(argv[1:])
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "completion":
        return _completion(args.shell)
    if args.command == "auth hash-token":
        try:
            return auth.hash_token(args)
        except UsageError as error:
            print(f"contextstore {args.command}: {error}", file=sys.stderr)
            return exits.USAGE
    return _client_command(args)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the exit's own flush fails no more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _tolerant_stdout() -> None:
    """A path the terminal's encoding cannot show is printed escaped, not a traceback."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    _tolerant_stdout()
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        print(file=sys.stderr)  # the shell's prompt starts on a line of its own after ^C
        return exits.INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return exits.BROKEN_PIPE
