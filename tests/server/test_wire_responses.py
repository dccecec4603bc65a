"""The hand-encoded responses (``wire``) against messages built by protobuf itself.

Reads send responses composed from parts encoded at write time; plain message
building is the reference. Equal after parsing is the promise: field order
may differ (``wire`` writes the digest first), bytes on the wire may not mean
anything else.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from contextstore.server import wire
from contextstore.server.config import ServerConfig
from contextstore.server.service import ContextStoreServicer, _fill_metadata
from contextstore.server.store.base import FileMetadata, FileWrite, decode_metadata
from contextstore.server.store.memory import StripedStore
from contextstore.v1 import context_store_pb2 as pb

INT64 = st.integers(-(2**63), 2**63 - 1)
# Times a Timestamp can hold (years 1 to 9999), in nanoseconds.
TIMES = st.integers(-62_135_596_800 * 10**9, 253_402_300_799 * 10**9 + 999_999_999)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
# Lengths of 128 and more take two varint bytes: paths and contents on both sides of it.
NAMES = TEXT | st.text(st.characters(exclude_categories=["Cs"]), min_size=120, max_size=200)
CONTENTS = st.binary(max_size=32) | st.binary(min_size=100, max_size=300)

metadata = st.builds(
    FileMetadata,
    path=NAMES,
    size=st.integers(0, 2**63 - 1),
    sha256=st.sampled_from([b"", bytes(32)]) | st.binary(min_size=32, max_size=32),
    mtime_ns=st.none() | TIMES,
    cached_at_ns=TIMES,
    labels=st.dictionaries(TEXT, TEXT, max_size=3),
    version=st.integers(0, 2**63 - 1),
)


def _tail(m: FileMetadata) -> bytes:
    return wire.metadata_tail(m.size, m.sha256, m.mtime_ns, m.cached_at_ns, m.labels, m.version)


def _built_metadata(m: FileMetadata) -> pb.FileMetadata:
    out = pb.FileMetadata()
    _fill_metadata(out, m)
    return out


@given(st.one_of(INT64, st.integers(0, 2**64 - 1)).filter(bool))
def test_varint_is_protobufs(n: int) -> None:
    # Zero is a default value, which protobuf leaves out, tag and all.
    message = pb.FileMetadata(version=n if n < 2**63 else n - 2**64)
    assert b"\x38" + wire.varint(n) == message.SerializeToString()


@given(metadata, CONTENTS)
def test_get_file_response_parses_as_the_built_message(m: FileMetadata, content: bytes) -> None:
    built = pb.GetFileResponse(content=content)
    _fill_metadata(built.metadata, m)
    sent = pb.GetFileResponse.FromString(wire.get_file_response(m.path, content, _tail(m)))
    assert sent == built
    assert sent.metadata.HasField("mtime") == (m.mtime_ns is not None)


@given(metadata)
def test_get_metadata_response_parses_as_the_built_message(m: FileMetadata) -> None:
    built = pb.GetMetadataResponse()
    _fill_metadata(built.metadata, m)
    sent = pb.GetMetadataResponse.FromString(wire.get_metadata_response(m.path, _tail(m)))
    assert sent == built
    assert sent.metadata.HasField("mtime") == (m.mtime_ns is not None)


@given(metadata)
def test_a_tail_decodes_to_its_metadata(m: FileMetadata) -> None:
    tail = _tail(m)
    assert decode_metadata(m.path, tail) == m
    if len(m.sha256) == 32:
        assert wire.tail_sha256(tail) == m.sha256


@given(
    st.lists(
        st.tuples(NAMES, st.none() | st.tuples(metadata, CONTENTS), st.booleans()), max_size=5
    ),
    st.booleans(),
)
def test_batch_response_parses_as_the_built_message(
    items: list[tuple[str, tuple[FileMetadata, bytes] | None, bool]], flagged: bool
) -> None:
    """With and without ``unchanged`` flags (a found file's ``FileResult.unchanged``)."""
    built = pb.BatchGetFilesResponse()
    found: list[wire.WireFile | None] = []
    for path, file, same in items:
        if file is None:
            built.files.add(path=path, found=False)
            found.append(None)
            continue
        m, content = file
        m = decode_metadata(path, _tail(m))  # the entry at this path
        result = built.files.add(path=path, found=True, content=content)
        result.unchanged = flagged and same
        _fill_metadata(result.metadata, m)
        found.append(wire.WireFile(content, _tail(m)))
    unchanged = [same for _, _, same in items] if flagged else None
    sent = wire.batch_response([path for path, _, _ in items], found, unchanged)
    assert pb.BatchGetFilesResponse.FromString(sent) == built


writes = st.builds(
    FileWrite,
    path=st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12),
    content=st.binary(max_size=64),
    labels=st.dictionaries(TEXT, TEXT, max_size=3),
    mtime_ns=st.none() | TIMES,
)


@given(st.lists(writes, min_size=1, max_size=6), st.none() | st.text("abc-/", min_size=1))
def test_the_servicers_reads_send_what_plain_building_would(
    batch: list[FileWrite], session: str | None
) -> None:
    """Through a real store: every read against messages built from each write."""
    store = StripedStore(stripes=2)
    servicer = ContextStoreServicer(store, ServerConfig())
    expected: dict[str, pb.FileMetadata] = {}
    contents: dict[str, bytes] = {}
    for w in batch:  # later writes of a path replace earlier ones
        meta = store.cache_file(session, w)
        assert meta.sha256 == hashlib.sha256(w.content).digest()
        expected[w.path], contents[w.path] = _built_metadata(meta), w.content
    request: dict[str, Any] = {} if session is None else {"session_id": session}
    for path, built in expected.items():
        sent = servicer.GetFile(pb.GetFileRequest(path=path, **request), None)
        assert pb.GetFileResponse.FromString(sent) == pb.GetFileResponse(
            content=contents[path], metadata=built
        )
        sent = servicer.GetMetadata(pb.GetMetadataRequest(path=path, **request), None)
        assert pb.GetMetadataResponse.FromString(sent) == pb.GetMetadataResponse(metadata=built)
        digest = built.sha256
        sent = servicer.GetFile(pb.GetFileRequest(path=path, known_sha256=digest, **request), None)
        assert pb.GetFileResponse.FromString(sent) == pb.GetFileResponse(
            metadata=built, unchanged=True
        )
        other = pb.GetFileRequest(path=path, known_sha256=bytes(32), **request)
        assert pb.GetFileResponse.FromString(servicer.GetFile(other, None)) == pb.GetFileResponse(
            content=contents[path], metadata=built
        )
    paths = [*expected, "missing"]
    known = {p: m.sha256 for i, (p, m) in enumerate(expected.items()) if i % 2}
    sent = servicer.BatchGetFiles(
        pb.BatchGetFilesRequest(paths=paths, known_sha256=known, **request), None
    )
    assert pb.BatchGetFilesResponse.FromString(sent) == pb.BatchGetFilesResponse(
        files=[
            *(pb.FileResult(path=p, found=True, metadata=m, unchanged=True) if p in known
              else pb.FileResult(path=p, found=True, content=contents[p], metadata=m)
              for p, m in expected.items()),
            pb.FileResult(path="missing"),
        ]
    )  # fmt: skip
    sent = servicer.BatchGetFiles(pb.BatchGetFilesRequest(paths=paths, **request), None)
    assert pb.BatchGetFilesResponse.FromString(sent) == pb.BatchGetFilesResponse(
        files=[
            *(pb.FileResult(path=p, found=True, content=contents[p], metadata=m)
              for p, m in expected.items()),
            pb.FileResult(path="missing"),
        ]
    )  # fmt: skip


@given(
    st.lists(st.tuples(NAMES, metadata), max_size=5),
    st.text(max_size=200),
    st.integers(0, 2**63 - 1),
)
def test_list_response_parses_as_the_built_message(
    files: list[tuple[str, FileMetadata]], token: str, revision: int
) -> None:
    built = pb.ListFilesResponse(next_page_token=token, revision=revision)
    for path, m in files:
        _fill_metadata(built.files.add(), decode_metadata(path, _tail(m)))
    sent = wire.list_response([(path, _tail(m)) for path, m in files], token, revision)
    assert pb.ListFilesResponse.FromString(sent) == built
