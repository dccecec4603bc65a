"""The ``contextstore`` command: ``serve``, ``bench``, and client commands for scripts.

The client commands need only the client library; ``serve`` needs the
``[server]`` extra and ``bench`` the ``[bench]`` one, and each says so when
its extra is missing. This is the one place that starts the server.

Human output by default, ``--json`` for scripts. Failures print the error to
stderr and exit 1; a miss is a failure (``not found``) so scripts can test it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from contextstore.cli import render
from contextstore.client import ContextStoreClient, ContextStoreError
from contextstore.client._calls import DEFAULT_TARGET, DEFAULT_TIMEOUT

Command = Callable[[ContextStoreClient, argparse.Namespace], Any]


class Miss(Exception):
    """The addressed entry is not cached."""


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--target",
        default=os.environ.get("CONTEXTSTORE_TARGET", DEFAULT_TARGET),
        help="server address host:port [env CONTEXTSTORE_TARGET; default %(default)s]",
    )
    common.add_argument("--session", default=None, help="session id (default: global namespace)")
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    common.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="deadline, seconds")
    return common


def _read_input(source: str | None) -> bytes:
    if source is None or source == "-":
        return sys.stdin.buffer.read()
    with open(source, "rb") as f:
        return f.read()


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"a label is KEY=VALUE, got {text!r}")
    return key, value


def _found(value: Any, what: str) -> Any:
    if value is None:
        raise Miss(f"not found: {what}")
    return value


# -- commands ------------------------------------------------------------------


def _put(c: ContextStoreClient, a: argparse.Namespace) -> Any:
    content = _read_input(a.input)
    return c.cache_file(a.path, content, labels=dict(a.label), mtime=a.mtime)


def _get(c: ContextStoreClient, a: argparse.Namespace) -> Any:
    return _found(c.get_file(a.path), a.path)


def _meta(c: ContextStoreClient, a: argparse.Namespace) -> Any:
    return _found(c.get_metadata(a.path), a.path)


def _analysis_put(c: ContextStoreClient, a: argparse.Namespace) -> Any:
    return c.cache_analysis(a.path, a.analysis_type, _read_input(a.input))


def _analysis_get(c: ContextStoreClient, a: argparse.Namespace) -> Any:
    return _found(c.get_analysis(a.path, a.analysis_type), f"{a.analysis_type} of {a.path}")


def _invalidate(c: ContextStoreClient, a: argparse.Namespace) -> Any:
    if a.analysis is not None:
        return c.invalidate_analysis(a.path, a.analysis)
    if a.analyses:
        return c.invalidate_analyses(a.path)
    return c.invalidate_file(a.path)


def _clear(c: ContextStoreClient, a: argparse.Namespace) -> Any:
    return c.clear_session()


def _stats(c: ContextStoreClient, a: argparse.Namespace) -> Any:
    return c.stats()


def _store_stats(c: ContextStoreClient, a: argparse.Namespace) -> Any:
    return c.store_stats()


def _info(c: ContextStoreClient, a: argparse.Namespace) -> Any:
    return c.server_info()


# -- parser --------------------------------------------------------------------


def _add(
    sub: Any, name: str, run: Command, help_text: str, common: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help_text)
    parser.set_defaults(run=run, command=name)
    return parser


def _input_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="input", metavar="FILE", help="read from FILE (default stdin)"
    )


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="contextstore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("serve", help="run the server (see: contextstore serve --help)", add_help=False)
    sub.add_parser("bench", help="load generator (see: contextstore bench --help)", add_help=False)
    put = _add(sub, "put", _put, "cache a file's content (from --from FILE or stdin)", common)
    put.add_argument("path")
    _input_flag(put)
    put.add_argument("--label", action="append", type=_label, default=[], metavar="KEY=VALUE")
    put.add_argument("--mtime", type=datetime.fromisoformat, help="ISO 8601 modification time")
    _add(sub, "get", _get, "print a cached file's content", common).add_argument("path")
    _add(sub, "meta", _meta, "print a cached file's metadata", common).add_argument("path")
    _analysis_parsers(sub, common)
    inv = _add(sub, "invalidate", _invalidate, "drop a path, or only its analyses", common)
    inv.add_argument("path")
    inv.add_argument("--analysis", metavar="TYPE", help="drop only this analysis type")
    inv.add_argument("--analyses", action="store_true", help="drop every analysis, keep the file")
    _add(sub, "clear", _clear, "drop everything of the session (or the global namespace)", common)
    _add(sub, "stats", _stats, "counters of --session (or of the global namespace)", common)
    _add(sub, "store-stats", _store_stats, "counters of the whole store", common)
    _add(sub, "info", _info, "server version, backend and limits", common)
    return parser


def _analysis_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    analysis = sub.add_parser("analysis", help="cache or read analysis results")
    verbs = analysis.add_subparsers(dest="verb", required=True, metavar="VERB")
    put = _add(verbs, "put", _analysis_put, "cache an analysis result", common)
    get = _add(verbs, "get", _analysis_get, "print an analysis result", common)
    for parser in (put, get):
        parser.add_argument("path")
        parser.add_argument("analysis_type", metavar="TYPE")
    _input_flag(put)
    for parser in (put, get):
        parser.set_defaults(command=f"analysis {parser.prog.split()[-1]}")


def _serve(argv: Sequence[str]) -> int:
    # Imported here: client commands need neither the server nor its extra.
    try:
        from contextstore.server.main import main as serve_main
    except ModuleNotFoundError as error:  # the [server] extra is not installed
        print(f"contextstore serve: {error}", file=sys.stderr)
        return 2
    return serve_main(argv)


def _bench(argv: Sequence[str]) -> int:
    # Imported here: client commands need neither the load generator nor its extra.
    try:
        from contextstore.bench.cli import main as bench_main
    except ModuleNotFoundError as error:  # the [bench] extra is not installed
        print(f"contextstore bench: {error}", file=sys.stderr)
        return 2
    return bench_main(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["serve"]:
        return _serve(args_list[1:])
    if args_list[:1] == ["bench"]:
        return _bench(args_list[1:])
    args = build_parser().parse_args(args_list)
    try:
        with ContextStoreClient(args.target, timeout=args.timeout) as client:
            result = args.run(client.session(args.session), args)
    except (ContextStoreError, Miss, OSError) as error:
        print(f"contextstore {args.command}: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(render.to_json(result), indent=2, sort_keys=True))
    else:
        render.human(result, sys.stdout)
    return 0
