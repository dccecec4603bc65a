"""``contextstore watch``: a namespace's changes, a line (or a JSON object) per event, as they come.

It runs the typed client's ``Watch`` over the CLI's connection, so it resumes
as the clients do after a dropped stream, and it gets each response as its
message, so ``--json`` prints protobuf's JSON mapping of it, one object per
line (JSON Lines). It runs until Ctrl-C (exit 130), ``--count`` changes, or a
failure: a start revision no longer retained exits with OUT_OF_RANGE's status.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO

from google.protobuf import json_format
from google.rpc import status_pb2

from contextstore.cli import render
from contextstore.cli.rpc import Connection, RpcFailure
from contextstore.client.errors import ContextStoreError
from contextstore.client.watch import Watch
from contextstore.v1 import context_store_pb2 as pb


def run(conn: Connection, a: argparse.Namespace) -> None:
    """Print ``a.session``'s changes after ``--from`` until done; raises ``RpcFailure``."""
    shown = 0
    watch = Watch(conn.stub(), a.session, a.start, a.prefix, parse=lambda m: m)
    try:
        with watch:
            for response in watch:
                if response.progress and not a.progress:
                    continue
                (_json_line if a.json else _lines)(response, sys.stdout)
                sys.stdout.flush()
                shown += not response.progress
                if a.count and shown >= a.count:
                    return
    except ContextStoreError as error:
        status = status_pb2.Status(code=error.code.value[0], message=error.message)
        raise RpcFailure(status) from None


def _json_line(response: pb.WatchResponse, out: IO[str]) -> None:
    plain = json_format.MessageToDict(
        response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    render.write_json(json.dumps(plain, ensure_ascii=False, separators=(",", ":")), out)


def _lines(response: pb.WatchResponse, out: IO[str]) -> None:
    if response.progress:
        out.write(f"{response.revision} PROGRESS\n")
    for e in response.events:
        kind = pb.WatchEventKind.Name(e.kind).removeprefix("WATCH_EVENT_KIND_")
        words = [str(response.revision), kind]
        if e.path:
            words.append(e.path)
        if e.kind == pb.WATCH_EVENT_KIND_FILE_CACHED:
            words += [f"version={e.version}", f"sha256={e.sha256.hex()}"]
        if e.analysis_type:
            words.append(f"type={e.analysis_type}")
        if e.reason:
            words.append(
                "reason=" + pb.RemovalReason.Name(e.reason).removeprefix("REMOVAL_REASON_").lower()
            )
        out.write(" ".join(words) + "\n")
