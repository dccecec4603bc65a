"""File responses in protobuf wire form, composed from parts encoded once per write.

A read is the hot path: building a ``GetFileResponse`` message, filling its
metadata and serializing 1 KiB of content again on every call cost more than
the rest of the call. So a store keeps each file's metadata encoded when it is
written (a *tail*: every ``FileMetadata`` field but the path), and a read
composes its response from the content, the path and that tail by
concatenation: a repeated field is a run of length-delimited records, and a
message field is a tag, a length and the message's bytes.

Field numbers are the contract's (``contextstore/v1/context_store.proto``);
``tests/server/test_wire.py`` checks every function here against messages
built and parsed by protobuf itself. Fields are written in any order the
parser accepts (the digest first, so a store can read it at a fixed offset),
and default values are left out as protobuf does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import NamedTuple

from contextstore.v1 import context_store_pb2 as pb

_ONE_BYTE = [bytes((n,)) for n in range(0x80)]

# Tags: (field number << 3) | wire type (0 varint, 2 length-delimited).
_LEN_1, _LEN_2, _LEN_3, _LEN_4 = b"\x0a", b"\x12", b"\x1a", b"\x22"
_FOUND = b"\x10\x01"  # FileResult.found = true
_SIZE = b"\x10"  # FileMetadata.size
_SHA256 = b"\x1a"  # FileMetadata.sha256
_MTIME, _CACHED_AT, _LABEL = b"\x22", b"\x2a", b"\x32"
_VERSION = b"\x38"  # FileMetadata.version
_NANOS = b"\x10"  # Timestamp.nanos (seconds is field 1, a varint: tag 0x08)

SHA256_OFFSET = 2
"""Where a tail's 32-byte digest starts: it is the first field, after its tag and length."""


class WireFile(NamedTuple):
    """A stored file as a read returns it: its content and its encoded metadata tail."""

    content: bytes
    tail: bytes


def varint(n: int) -> bytes:
    """``n`` as a base-128 varint; a negative int64 takes ten bytes, as protobuf writes it."""
    if 0 <= n < 0x80:
        return _ONE_BYTE[n]
    if 0 < n < 0x4000:  # two bytes: every length of a 1 KiB file's response
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, data: bytes) -> bytes:
    return tag + varint(len(data)) + data


def _timestamp(ns: int) -> bytes:
    # divmod floors: the normalized Timestamp (nanos in [0, 1e9)) for times before 1970 too.
    seconds, nanos = divmod(ns, 1_000_000_000)
    out = b"\x08" + varint(seconds) if seconds else b""
    return out + _NANOS + varint(nanos) if nanos else out


def metadata_head(
    size: int, sha256: bytes, mtime_ns: int | None, labels: Mapping[str, str] | None
) -> bytes:
    """The tail's part known before a write is ordered: digest, size, mtime, labels.

    The digest comes first, at ``SHA256_OFFSET``, so stores read it without parsing.
    """
    out = [_SHA256, varint(len(sha256)), sha256]
    if size:
        out += (_SIZE, varint(size))
    if mtime_ns is not None:  # present even when zero: the epoch is a time
        out.append(_field(_MTIME, _timestamp(mtime_ns)))
    for key, value in (labels or {}).items():
        entry = _field(_LEN_1, key.encode()) + _field(_LEN_2, value.encode())
        out.append(_field(_LABEL, entry))
    return b"".join(out)


def metadata_stamp(cached_at_ns: int, version: int) -> bytes:
    """The tail's part a store assigns as it orders the write: cached_at and version.

    Small enough to encode while holding the lock that orders writes.
    """
    out = _field(_CACHED_AT, _timestamp(cached_at_ns))
    return out + _VERSION + varint(version) if version else out


def metadata_tail(
    size: int,
    sha256: bytes,
    mtime_ns: int | None,
    cached_at_ns: int,
    labels: Mapping[str, str] | None,
    version: int,
) -> bytes:
    """Every ``FileMetadata`` field but ``path``, encoded: ``metadata_head + metadata_stamp``."""
    return metadata_head(size, sha256, mtime_ns, labels) + metadata_stamp(cached_at_ns, version)


def tail_sha256(tail: bytes) -> bytes:
    """The digest a tail starts with (see ``metadata_head``)."""
    return tail[SHA256_OFFSET : SHA256_OFFSET + 32]


def tail_version(tail: bytes) -> int:
    """The version a stored file's tail carries (its last field, see ``metadata_stamp``)."""
    return parse_tail(tail).version


UNCHANGED = b"\x18\x01"
"""``GetFileResponse.unchanged = true``: appended to a response without content."""


def get_file_response(path: str, content: bytes, tail: bytes) -> bytes:
    """An encoded ``GetFileResponse``: content (1), metadata (2).

    The hottest function of the server, so ``metadata`` is spelled out inline.
    """
    name = path.encode()
    n = len(name)  # one-byte lengths looked up, not computed: nearly every path and metadata
    meta = b"".join((_LEN_1, _ONE_BYTE[n] if n < 0x80 else varint(n), name, tail)) if n else tail
    m = len(meta)
    meta_head = _LEN_2 + (_ONE_BYTE[m] if m < 0x80 else varint(m))
    if not content:
        return meta_head + meta
    return b"".join((_LEN_1, varint(len(content)), content, meta_head, meta))


def get_metadata_response(path: str, tail: bytes) -> bytes:
    """An encoded ``GetMetadataResponse``: metadata (1), the path and the tail."""
    name = path.encode()
    meta = _field(_LEN_1, name) + tail if name else tail
    return _field(_LEN_1, meta)


def without_known(
    paths: Sequence[str], found: Sequence[WireFile | None], known: Mapping[str, bytes]
) -> tuple[list[WireFile | None], list[bool]]:
    """``found`` without the contents whose digest ``known`` gives for their path,
    and which results those are (``FileResult.unchanged``)."""
    kept: list[WireFile | None] = []
    unchanged: list[bool] = []
    for path, file in zip(paths, found, strict=True):
        same = file is not None and known.get(path) == tail_sha256(file.tail)
        kept.append(WireFile(b"", file.tail) if same and file is not None else file)
        unchanged.append(same)
    return kept, unchanged


_UNCHANGED_RESULT = b"\x28\x01"  # FileResult.unchanged = true


def batch_response(
    paths: Sequence[str], found: Sequence[WireFile | None], unchanged: Sequence[bool] | None = None
) -> bytes:
    """An encoded ``BatchGetFilesResponse``: one ``FileResult`` per path, in order.

    Each ``FileResult``: path (1), found (2), content (3), metadata (4), the
    metadata being the path again and the tail, and unchanged (5) where
    ``unchanged`` says so. One loop, lengths under 128 looked up: a batch of
    100 files is 100 turns of it, not 600 calls.
    """
    one, parts = _ONE_BYTE, list[bytes]()
    flags = repeat(False) if unchanged is None else unchanged
    for path, file, same in zip(paths, found, flags, strict=False):  # flags may repeat
        name = path.encode()
        n = len(name)
        field = b"".join((_LEN_1, one[n] if n < 0x80 else varint(n), name)) if n else b""
        if file is None:
            result = field
        else:
            content, meta = file.content, field + file.tail
            m, c = len(meta), len(content)
            result = b"".join((
                field, _FOUND,
                (_LEN_3 + (one[c] if c < 0x80 else varint(c))) if c else b"", content,
                _LEN_4, one[m] if m < 0x80 else varint(m), meta,
            ))  # fmt: skip
            if same:
                result += _UNCHANGED_RESULT
        r = len(result)
        parts += (_LEN_1, one[r] if r < 0x80 else varint(r), result)
    return b"".join(parts)


def list_response(files: Sequence[tuple[str, bytes]], next_page_token: str, revision: int) -> bytes:
    """An encoded ``ListFilesResponse``: each file (1) its path and tail, the token (2),
    the revision (3)."""
    parts: list[bytes] = []
    for path, tail in files:
        name = path.encode()
        meta = _field(_LEN_1, name) + tail if name else tail
        parts.append(_field(_LEN_1, meta))
    if next_page_token:
        parts.append(_field(_LEN_2, next_page_token.encode()))
    if revision:
        parts.append(b"\x18" + varint(revision))
    return b"".join(parts)


def parse_tail(tail: bytes) -> pb.FileMetadata:
    """A tail as a message (``path`` empty): for the calls that want fields, not bytes."""
    return pb.FileMetadata.FromString(tail)
