"""The client commands: each builds the typed client's call, runs it, keeps the response.

A command returns an ``Outcome``: the response message (what ``--json``
prints) and the typed value the client library makes of it (what a person
sees). A single read that misses raises a NOT_FOUND ``RpcFailure``; a batch read reports its
misses in ``Outcome.missing`` after printing what it found.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message

from contextstore.cli import inputs, watching
from contextstore.cli.render import Fetched, Listed
from contextstore.cli.rpc import Connection, RpcFailure
from contextstore.client import FileMetadata
from contextstore.client import _calls as calls
from contextstore.v1 import context_store_pb2 as pb


@dataclass(frozen=True, slots=True)
class Outcome:
    response: Message
    value: Any
    missing: tuple[str, ...] = ()
    printed: bool = False  # a stream (``watch``) printed as it went


Command = Callable[[Connection, argparse.Namespace], Outcome]


def _run(conn: Connection, call: calls.Call[Any], *, sized: bool = False) -> Outcome:
    response = conn.run(call, sized=sized)
    return Outcome(response, call.parse(response))


def _read(conn: Connection, call: calls.Call[Any], what: str) -> Outcome:
    try:
        return _run(conn, call, sized=True)
    except RpcFailure as failure:
        if failure.code == grpc.StatusCode.NOT_FOUND:
            # The server's status for --json; for a person, what was missed.
            raise RpcFailure(failure.status, f"not found: {what}") from None
        raise


def put(conn: Connection, a: argparse.Namespace) -> Outcome:
    if a.files:
        if a.input is not None:
            raise inputs.UsageError("--from is the content of one PATH: not with --files")
        if a.if_version is not None or a.if_sha256 is not None:
            raise inputs.UsageError("--if-version and --if-sha256 test one PATH: not with --files")
        files = inputs.uploads(a.files, a.label, a.mtime)
        return _run(conn, calls.batch_cache_files(a.session, files), sized=True)
    content = inputs.read_content(a.input)
    call = calls.cache_file(a.session, a.path, content, a.label, a.mtime, a.if_version, a.if_sha256)
    return _run(conn, call, sized=True)


def get(conn: Connection, a: argparse.Namespace) -> Outcome:
    if len(a.paths) == 1:
        return _read(conn, calls.get_file(a.session, a.paths[0]), a.paths[0])
    done = _run(conn, calls.batch_get_files(a.session, a.paths), sized=True)
    missing = tuple(p for p, f in zip(a.paths, done.value, strict=True) if f is None)
    return Outcome(done.response, Fetched(a.paths, done.value), missing)


def meta(conn: Connection, a: argparse.Namespace) -> Outcome:
    return _read(conn, calls.get_metadata(a.session, a.path), a.path)


def analysis_put(conn: Connection, a: argparse.Namespace) -> Outcome:
    result = inputs.read_content(a.input)
    return _run(conn, calls.cache_analysis(a.session, a.path, a.analysis_type, result), sized=True)


def analysis_get(conn: Connection, a: argparse.Namespace) -> Outcome:
    call = calls.get_analysis(a.session, a.path, a.analysis_type)
    return _read(conn, call, f"{a.analysis_type} of {a.path}")


def ls(conn: Connection, a: argparse.Namespace) -> Outcome:
    """Every page, as one response: what --json prints is one ListFilesResponse."""
    merged = pb.ListFilesResponse()
    files: list[FileMetadata] = []
    token = ""
    while True:
        call = calls.list_files_page(a.session, a.prefix, 0, token)
        response = conn.run(call)
        if not token:  # watching from the first page's revision misses nothing after it
            merged.revision = response.revision  # type: ignore[attr-defined]
        merged.files.extend(response.files)  # type: ignore[attr-defined]
        files += call.parse(response).files
        token = response.next_page_token  # type: ignore[attr-defined]
        if not token:
            return Outcome(merged, Listed(files))


def watch(conn: Connection, a: argparse.Namespace) -> Outcome:
    watching.run(conn, a)
    return Outcome(pb.WatchResponse(), None, printed=True)


def invalidate(conn: Connection, a: argparse.Namespace) -> Outcome:
    if a.prefix is not None:
        if a.analysis is not None or a.analyses or a.if_version is not None or a.if_sha256:
            raise inputs.UsageError("--prefix drops whole paths: not with --analysis, --analyses"
                                    " or a precondition")  # fmt: skip
        return _run(conn, calls.invalidate_prefix(a.session, a.prefix))
    if a.analysis is not None:
        return _run(conn, calls.invalidate_analysis(a.session, a.path, a.analysis))
    if a.analyses:
        return _run(conn, calls.invalidate_analysis(a.session, a.path, None))
    return _run(conn, calls.invalidate_file(a.session, a.path, a.if_version, a.if_sha256))


def clear(conn: Connection, a: argparse.Namespace) -> Outcome:
    return _run(conn, calls.clear_session(a.session))


def stats(conn: Connection, a: argparse.Namespace) -> Outcome:
    return _run(conn, calls.stats(a.session))


def store_stats(conn: Connection, a: argparse.Namespace) -> Outcome:
    return _run(conn, calls.store_stats())


def info(conn: Connection, a: argparse.Namespace) -> Outcome:
    return _run(conn, calls.server_info())
