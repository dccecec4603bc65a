"""The ``contextstore`` argument parser: every command, flag and check in one place.

Shell completion is generated from this parser (``contextstore completion``),
so a flag added here is completed without further work.
"""

from __future__ import annotations

import argparse
import os
from importlib import metadata
from typing import Any

from contextstore.cli import auth, commands, exits, inputs
from contextstore.client import DEFAULT_TARGET, DEFAULT_TIMEOUT, flags
from contextstore.units import format_duration

DISTRIBUTION = "contextstore-grpc"
SHELLS = ("bash", "zsh")

DESCRIPTION = """\
A session-scoped cache of file contents and analysis results, over gRPC.

Client commands print for a person by default (file contents raw) and JSON with
--json. `serve` runs the server (the [server] extra), `bench` the load
generator (the [bench] extra), `completion` prints a shell completion script
(the [cli] extra), `auth hash-token` the token_sha256 of a token for the
server's --auth-tokens file."""


def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's table as written; wraps the rest."""


def _common(*, defaults: bool, complete: Any = None) -> argparse.ArgumentParser:
    """The connection and output flags, accepted before the command and after it.

    The top-level copy carries the defaults; each command's copy has none
    (``SUPPRESS``), so a flag given before the command is not reset by the
    command's parser, and one given after it wins.
    """
    target = os.environ.get("CONTEXTSTORE_TARGET", DEFAULT_TARGET)

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and output")
    group.add_argument(
        "--target", type=inputs.utf8, default=default(target),
        help="server address, host[:port] (port 50051 when absent) or unix:PATH; several"
        " servers to take turns over: IP[:port],IP[:port],... or dns:///NAME:PORT (every"
        f" address of NAME) [env CONTEXTSTORE_TARGET; default {target}]",
    )  # fmt: skip
    group.add_argument(
        "--session", type=inputs.utf8, default=default(None),
        help="session id (default: global namespace)",
    )  # fmt: skip
    group.add_argument(
        "--json", action="store_true", default=default(False),
        help="print protobuf JSON (see below)",
    )  # fmt: skip
    group.add_argument(
        "--timeout", type=inputs.timeout, default=default(DEFAULT_TIMEOUT), metavar="DURATION",
        help="deadline of each call: seconds, or 250ms, 30s, 5m"
        f" (default {format_duration(DEFAULT_TIMEOUT)})",
    )  # fmt: skip
    group.add_argument(
        "--max-message-bytes", type=inputs.size, default=default(None), metavar="SIZE",
        help="largest gRPC message sent or received, e.g. 64MiB (default: the server's"
        " advertised max_message_bytes, asked before a put or get)",
    )  # fmt: skip
    flags.add_flags(common, default, complete)
    return common


def _add(
    sub: Any, name: str, run: commands.Command, help_text: str, common: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, parents=[common], help=help_text, description=help_text,
        epilog=exits.epilog(), formatter_class=_Formatter,
    )  # fmt: skip
    parser.set_defaults(run=run, command=name)
    return parser


def _path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", type=inputs.utf8, metavar="PATH", help="the path the entry is cached under"
    )


def _input_flag(parser: argparse.ArgumentParser, complete: Any) -> None:
    action = parser.add_argument(
        "--from", dest="input", metavar="FILE", help="read the content from FILE (default stdin)"
    )
    action.complete = complete  # type: ignore[attr-defined]


def build_parser(complete_files: Any = None) -> argparse.ArgumentParser:
    """The parser; ``complete_files`` marks file arguments for shell completion (shtab)."""
    common = _common(defaults=False, complete=complete_files)
    parser = argparse.ArgumentParser(
        prog="contextstore", description=DESCRIPTION, epilog=exits.epilog(),
        formatter_class=_Formatter, parents=[_common(defaults=True, complete=complete_files)],
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("serve", help="run the server (see: contextstore serve --help)", add_help=False)
    sub.add_parser("bench", help="load generator (see: contextstore bench --help)", add_help=False)
    _put_parser(sub, common, complete_files)
    get = _add(sub, "get", commands.get, "print cached files' content", common)
    get.add_argument(
        "paths", nargs="+", type=inputs.utf8, metavar="PATH",
        help="one path: its content, raw; several: one BatchGetFiles call, each content"
        " after a `==> PATH <==` line, misses named on stderr (exit 1)",
    )  # fmt: skip
    _path(_add(sub, "meta", commands.meta, "print a cached file's metadata", common))
    ls = _add(sub, "ls", commands.ls, "list cached files in path order, every page", common)
    ls.add_argument(
        "prefix", nargs="?", default="", type=inputs.utf8, metavar="PREFIX",
        help="only paths that start with PREFIX (e.g. src/)",
    )  # fmt: skip
    _watch_parser(sub, common)
    _analysis_parsers(sub, common, complete_files)
    inv = _add(
        sub, "invalidate", commands.invalidate,
        "drop a path, only its analyses, or every path under a prefix", common,
    )  # fmt: skip
    what = inv.add_mutually_exclusive_group(required=True)
    what.add_argument("path", nargs="?", type=inputs.utf8, metavar="PATH", help="the path to drop")
    what.add_argument(
        "--prefix", type=inputs.utf8, metavar="PREFIX",
        help="drop every file and analysis whose path starts with PREFIX, at once",
    )  # fmt: skip
    inv.add_argument(
        "--analysis", type=inputs.utf8, metavar="TYPE", help="drop only this analysis type"
    )
    inv.add_argument("--analyses", action="store_true", help="drop every analysis, keep the file")
    _precondition_flags(inv, "drop the file only if")
    _add(sub, "clear", commands.clear, "drop everything of --session (or the global namespace)",
         common)  # fmt: skip
    _add(sub, "stats", commands.stats, "counters of --session (or of the global namespace)", common)
    _add(sub, "store-stats", commands.store_stats, "counters of the whole store", common)
    _add(sub, "info", commands.info, "server version, backend and limits", common)
    auth.add_parser(sub, _Formatter)
    completion = sub.add_parser(
        "completion", help="print a bash or zsh completion script ([cli] extra)",
        description="Print a shell completion script (needs the [cli] extra).",
        epilog="bash: source <(contextstore completion bash)\n"
        "zsh:  contextstore completion zsh > ~/.zfunc/_contextstore, with ~/.zfunc on $fpath",
        formatter_class=_Formatter,
    )  # fmt: skip
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(command="completion")
    return parser


def _put_parser(sub: Any, common: argparse.ArgumentParser, complete: Any) -> None:
    put = _add(sub, "put", commands.put, "cache a file's content, or many files at once", common)
    what = put.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "path", nargs="?", type=inputs.utf8, metavar="PATH",
        help="cache the content of stdin (or of --from FILE) under PATH",
    )  # fmt: skip
    files = what.add_argument(
        "--files", nargs="+", type=inputs.utf8, metavar="FILE_OR_DIR",
        help="cache these files, directories walked, in one BatchCacheFiles call (all or"
        " none), each under its path as written (e.g. src/app.py)",
    )  # fmt: skip
    files.complete = complete  # type: ignore[attr-defined]
    _input_flag(put, complete)
    put.add_argument(
        "--label", action=inputs.Labels, type=inputs.utf8, default={}, metavar="KEY=VALUE",
        help="a label of the file(s); repeat for more",
    )  # fmt: skip
    put.add_argument(
        "--mtime", type=inputs.mtime, metavar="TIME",
        help="modification time of the file(s), ISO 8601 (e.g. 2024-05-06T07:08:09+00:00)",
    )  # fmt: skip
    _precondition_flags(put, "store only if")


def _watch_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    watch = _add(
        sub, "watch", commands.watch,
        "print --session's changes as they happen, a line per event (--json: an object per"
        " revision, one a line), until Ctrl-C; resumes by itself when the stream drops",
        common,
    )  # fmt: skip
    watch.add_argument(
        "--from", dest="start", type=inputs.whole, default=0, metavar="REVISION",
        help="replay every change after REVISION first (what `ls --json` or a write reported);"
        " 0 (the default): from now",
    )  # fmt: skip
    watch.add_argument(
        "--prefix", type=inputs.utf8, default="", metavar="PREFIX",
        help="only events of paths that start with PREFIX (and session events)",
    )  # fmt: skip
    watch.add_argument(
        "--count", type=inputs.whole, default=0, metavar="N",
        help="exit 0 after N revisions with events (0, the default: never)",
    )  # fmt: skip
    watch.add_argument(
        "--progress", action="store_true",
        help="also print progress (nothing changed up to a revision) when it comes",
    )  # fmt: skip


def _precondition_flags(parser: argparse.ArgumentParser, what: str) -> None:
    """Compare-and-set: a failed test exits 74 (ABORTED), naming the current version."""
    parser.add_argument(
        "--if-version", type=inputs.version, metavar="N",
        help=f"{what} the file at PATH has version N (0: only if there is none)",
    )  # fmt: skip
    parser.add_argument(
        "--if-sha256", type=inputs.sha256, metavar="HEX",
        help=f"{what} the file at PATH has this SHA-256 digest (64 hex digits)",
    )  # fmt: skip


def _analysis_parsers(sub: Any, common: argparse.ArgumentParser, complete: Any) -> None:
    analysis = sub.add_parser("analysis", help="cache or read analysis results")
    verbs = analysis.add_subparsers(dest="verb", required=True, metavar="VERB")
    put = _add(verbs, "put", commands.analysis_put, "cache an analysis result", common)
    get = _add(verbs, "get", commands.analysis_get, "print an analysis result, raw", common)
    for parser, verb in ((put, "put"), (get, "get")):
        _path(parser)
        parser.add_argument("analysis_type", type=inputs.utf8, metavar="TYPE")
        parser.set_defaults(command=f"analysis {verb}")
    _input_flag(put, complete)
