"""Exit statuses of the client commands, so that a script can tell a miss from an outage.

One table, printed by ``contextstore --help`` and repeated in the README (a
test holds the two together): 0 ok, 1 not found, 2 usage, and 64 + the gRPC
status code for every other failed call, as grpcurl does.
"""

from __future__ import annotations

import grpc

OK = 0
NOT_FOUND = 1
USAGE = 2
RPC_BASE = 64
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C'd command
BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `cat big | head -1`'s cat

# The codes a caller of this server can meet, in the order people look for them.
_NOTABLE = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.UNAUTHENTICATED,
)


def for_status(code: grpc.StatusCode) -> int:
    """The exit status of a call that ended with ``code`` (not OK)."""
    if code == grpc.StatusCode.NOT_FOUND:
        return NOT_FOUND
    number: int = code.value[0]
    return RPC_BASE + number


def table() -> list[tuple[int, str]]:
    """(status, meaning) rows, for ``--help`` and the README."""
    rpc = [(for_status(code), f"the call failed with {code.name}") for code in _NOTABLE]
    return [
        (OK, "success"),
        (NOT_FOUND, "not found: a miss (with several paths, any of them)"),
        (USAGE, "usage: bad flags or arguments, unreadable input, stdin a terminal"),
        *rpc,
        (INTERRUPTED, "interrupted (Ctrl-C)"),
        (BROKEN_PIPE, "stdout was closed before all was written (by `head`, say), quietly"),
    ]


def epilog() -> str:
    rows = "\n".join(f"  {status:>3}  {meaning}" for status, meaning in table())
    return (
        "exit status:\n"
        f"{rows}\n"
        f"  64 + N for any other gRPC status code N (e.g. {for_status(grpc.StatusCode.CANCELLED)}"
        " CANCELLED).\n"
        "\n"
        "With --json, results are printed on stdout as protobuf's JSON mapping of the\n"
        "response (field names as in the .proto, int64 as strings, bytes as base64,\n"
        "zero values included: what `grpcurl -emit-defaults` prints), and a failure is\n"
        "printed on stderr as a google.rpc.Status in the same mapping (what\n"
        '`grpcurl -format-error` prints): {"code": 5, "message": ...}.'
    )
