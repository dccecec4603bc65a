"""What the commands read: checked arguments, content from stdin or files, directories.

Every mistake here is a ``UsageError`` (exit 2) with a sentence that names the
argument, never a traceback: argv that is not UTF-8 (Python hands it over with
surrogate escapes, which protobuf cannot encode), labels without a key or given
twice, a terminal where content is expected, a file that cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from contextstore.client import FileUpload
from contextstore.units import (
    MAX_GRPC_MESSAGE_BYTES,
    MAX_SECONDS,
    format_duration,
    format_size,
    parse_duration,
    parse_size,
)

N = TypeVar("N", int, float)


class UsageError(Exception):
    """The command line asks for something that cannot be done (exit 2)."""


def shown(text: str) -> str:
    """``text`` as the user typed it, printable even when it is not UTF-8."""
    return repr(os.fsencode(text))[1:] if not _is_utf8(text) else repr(text)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- argument types (argparse turns their errors into usage errors) -------------


def utf8(text: str) -> str:
    if not _is_utf8(text):
        raise argparse.ArgumentTypeError(f"not valid UTF-8: {shown(text)}")
    return text


def timeout(text: str) -> float:
    return _positive_at_most(parse_duration(text), MAX_SECONDS, text, format_duration(MAX_SECONDS))


def size(text: str) -> int:
    shown_most = f"{format_size(MAX_GRPC_MESSAGE_BYTES)} (gRPC's largest message)"
    return _positive_at_most(parse_size(text), MAX_GRPC_MESSAGE_BYTES, text, shown_most)


def _positive_at_most(value: N, most: N, text: str, shown_most: str) -> N:
    """``value`` if it is above 0 and at most ``most``; a usage error naming both otherwise."""
    if not 0 < value <= most:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {shown_most}, got {text!r}"
        )
    return value


def version(text: str) -> int:
    """A file version for ``--if-version``: a whole number, 0 meaning no file."""
    if not (text.isascii() and text.isdigit()) or int(text) >= 1 << 63:
        raise argparse.ArgumentTypeError(f"not a version (a whole number >= 0): {shown(text)}")
    return int(text)


def whole(text: str) -> int:
    """A whole number (a revision, a count): 0 or more, an int64."""
    if not (text.isascii() and text.isdigit()) or int(text) >= 1 << 63:
        raise argparse.ArgumentTypeError(f"not a whole number >= 0: {shown(text)}")
    return int(text)


def sha256(text: str) -> bytes:
    """A SHA-256 digest for ``--if-sha256``, as 64 hex digits (what ``meta`` prints)."""
    try:
        digest = bytes.fromhex(text)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise argparse.ArgumentTypeError(f"not a SHA-256 digest (64 hex digits): {shown(text)}")
    return digest


def mtime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2024-05-06T07:08:09+00:00)"
        ) from None


class Labels(argparse.Action):
    """``--label KEY=VALUE``, repeatable, into one dict; an empty or repeated key is refused.

    Give the argument ``type=utf8`` too: a type error becomes a usage error, an
    action's only when it is an ``ArgumentError``.
    """

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
        values: Any, option_string: str | None = None,
    ) -> None:  # fmt: skip
        key, sep, value = str(values).partition("=")
        if not sep:
            raise argparse.ArgumentError(self, f"a label is KEY=VALUE, got {values!r}")
        if not key:
            raise argparse.ArgumentError(self, f"the key is empty in {values!r}")
        labels = dict(getattr(namespace, self.dest) or {})
        if key in labels:
            raise argparse.ArgumentError(self, f"label {key!r} is given twice")
        labels[key] = value
        setattr(namespace, self.dest, labels)


# -- content ---------------------------------------------------------------------


def read_content(source: str | None) -> bytes:
    """The bytes of ``source`` (a file name), or of stdin for None and ``-``."""
    if source is None or source == "-":
        return _read_stdin()
    try:
        return Path(source).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {shown(source)}: {error.strerror}") from None


def _read_stdin() -> bytes:
    if sys.stdin is None:
        raise UsageError("no stdin to read the content from: use --from FILE")
    if sys.stdin.isatty():
        # Reading would wait for the user to type the content and press Ctrl-D,
        # which nobody expects: say how the content is meant to arrive.
        raise UsageError(
            "stdin is a terminal: pipe the content in (e.g. `echo hi | contextstore put a.txt`)"
            " or name a file with --from FILE"
        )
    return sys.stdin.buffer.read()


def uploads(
    sources: Sequence[str], labels: dict[str, str], when: datetime | None
) -> list[FileUpload]:
    """One upload per file named, directories walked; each cached under its path as given."""
    found: dict[str, Path] = {}
    for source in sources:
        for local in _files(Path(source), source):
            key = _key(local)
            if key not in found:  # named twice (a file and its directory): send it once
                found[key] = local
    if not found:
        raise UsageError(f"no files in {', '.join(map(shown, sources))}")
    return [
        FileUpload(key, _read(local), labels=labels, mtime=when) for key, local in found.items()
    ]


def _files(path: Path, source: str) -> Iterator[Path]:
    if path.is_dir():
        for root, dirs, names in os.walk(path):
            dirs.sort()  # the walk's order, and so the batch's, is the same on every machine
            yield from (Path(root, n) for n in sorted(names) if Path(root, n).is_file())
    elif path.is_file():
        yield path
    else:
        raise UsageError(f"not a file or directory: {shown(source)}")


def _key(local: Path) -> str:
    key = os.path.normpath(local).replace(os.sep, "/")
    if not _is_utf8(key):
        raise UsageError(f"file name is not valid UTF-8: {shown(key)}")
    return key


def _read(local: Path) -> bytes:
    try:
        return local.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {shown(str(local))}: {error.strerror}") from None
