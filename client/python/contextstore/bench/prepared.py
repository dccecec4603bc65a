"""Requests serialized ahead of the calls, in memory that does not grow with payloads.

A worker cycles through a *plan*, a pre-drawn sequence of (operation,
request), so a call costs no protobuf work and no random draws on the hot
path. Requests without a payload are kept serialized, once per (operation,
namespace, key); batches come from a small pool per namespace.

A request that carries a payload (CacheFile, CacheAnalysis, BatchCacheFiles)
is kept as a ``Spliced``: its serialized fields and, in place of each content,
the span of the payload buffer it is (``workload.Payloads``), joined into bytes
only when it is sent. Keeping them serialized whole once held one copy of a
payload per (operation, namespace, key): 20 MiB payloads grew a worker past
10 GB before the first call. Now a plan costs a few hundred bytes per distinct
request plus the one buffer, whatever the payload size, and a send costs one
copy of its payload.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor

from contextstore.bench.workload import Payloads, Workload, draw_keys, key_path
from contextstore.v1 import context_store_pb2 as pb

ANALYSIS_TYPE = "bench"
BATCH_POOL = 32  # pre-built batches per (operation, namespace)


def _varint(value: int) -> bytes:
    """``value`` as a protobuf base-128 varint (protobuf's Python API does not expose one)."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_header(number: int, length: int) -> bytes:
    """Tag and length of a length-delimited field: what precedes its bytes on the wire."""
    return _varint(number << 3 | 2) + _varint(length)


def _number(message: Descriptor, name: str) -> int:
    return message.fields_by_name[name].number


# The payload is the highest-numbered field each of these sets, so a spliced
# request is byte for byte what protobuf would serialize.
_CONTENT = _number(pb.CacheFileRequest.DESCRIPTOR, "content")
_RESULT = _number(pb.CacheAnalysisRequest.DESCRIPTOR, "result")
_FILES = _number(pb.BatchCacheFilesRequest.DESCRIPTOR, "files")
_UPLOAD_CONTENT = _number(pb.FileUpload.DESCRIPTOR, "content")


@dataclass(frozen=True, slots=True)
class Spliced:
    """A serialized request with its payloads left in the shared buffer.

    ``parts`` are serialized bytes and spans (slices) of the payload buffer,
    in wire order; ``join`` makes the request's bytes, one copy of each payload.
    """

    parts: tuple[bytes | slice, ...]

    def join(self, buffer: memoryview) -> bytes:
        return b"".join([p if isinstance(p, bytes) else buffer[p] for p in self.parts])


Request = bytes | Spliced


def _payload_field(field: int, span: slice) -> list[bytes | slice]:
    """The parts of a payload field; none when empty, which protobuf does not write."""
    size = span.stop - span.start
    return [field_header(field, size), span] if size else []


def _merged(parts: list[bytes | slice]) -> Spliced:
    """``parts`` with neighbouring bytes joined once, here, rather than at every send."""
    out: list[bytes | slice] = []
    for part in parts:
        if isinstance(part, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += part
        else:
            out.append(part)
    return Spliced(tuple(out))


def spliced(head: bytes, field: int, span: slice) -> Spliced:
    """``head`` (the message without its payload) followed by the payload field."""
    return _merged([head, *_payload_field(field, span)])


def batch_cache_request(session: str | None, keys: Sequence[int], payloads: Payloads) -> Spliced:
    parts: list[bytes | slice] = [pb.BatchCacheFilesRequest(session_id=session).SerializeToString()]
    for key in keys:
        content = _payload_field(_UPLOAD_CONTENT, payloads.span(key))
        upload = [pb.FileUpload(path=key_path(key)).SerializeToString(), *content]
        size = sum(len(p) if isinstance(p, bytes) else p.stop - p.start for p in upload)
        parts += [field_header(_FILES, size), *upload]
    return _merged(parts)


def single_request(op: str, session: str | None, key: int, payloads: Payloads) -> Request:
    path = key_path(key)
    if op == "cache":
        head = pb.CacheFileRequest(session_id=session, path=path).SerializeToString()
        return spliced(head, _CONTENT, payloads.span(key))
    if op == "analysis_put":
        put = pb.CacheAnalysisRequest(session_id=session, path=path, analysis_type=ANALYSIS_TYPE)
        return spliced(put.SerializeToString(), _RESULT, payloads.span(key))
    if op == "analysis_get":
        get = pb.GetAnalysisRequest(session_id=session, path=path, analysis_type=ANALYSIS_TYPE)
        return get.SerializeToString()
    if op == "invalidate_analysis":
        return pb.InvalidateAnalysisRequest(session_id=session, path=path).SerializeToString()
    if op == "clear":
        return pb.ClearSessionRequest(session_id=session).SerializeToString()
    if op == "get":
        return pb.GetFileRequest(session_id=session, path=path).SerializeToString()
    if op == "metadata":
        return pb.GetMetadataRequest(session_id=session, path=path).SerializeToString()
    return pb.InvalidateFileRequest(session_id=session, path=path).SerializeToString()


class RequestBuilder:
    """Requests of every operation, memoized per (op, namespace, key)."""

    def __init__(self, workload: Workload, payloads: Payloads) -> None:
        self.workload = workload
        self.payloads = payloads
        self._single: dict[tuple[str, str | None, int], Request] = {}
        self._batches: dict[tuple[str, str | None], list[Request]] = {}

    def single(self, op: str, session: str | None, key: int) -> Request:
        memo = (op, session, key)
        if memo not in self._single:
            self._single[memo] = single_request(op, session, key, self.payloads)
        return self._single[memo]

    def batch(self, op: str, session: str | None, rng: random.Random) -> Request:
        pool = self._batches.setdefault((op, session), [])
        if len(pool) < BATCH_POOL:
            pool.append(self._new_batch(op, session, rng))
            return pool[-1]
        return rng.choice(pool)

    def _new_batch(self, op: str, session: str | None, rng: random.Random) -> Request:
        count = min(self.workload.batch_size, self.workload.keys)
        if op == "batch_get":
            keys = draw_keys(self.workload, rng, count)
            paths = [key_path(k) for k in keys]
            return pb.BatchGetFilesRequest(session_id=session, paths=paths).SerializeToString()
        # BatchCacheFiles refuses repeated paths, so draw until `count` distinct keys.
        distinct: dict[int, None] = {}
        while len(distinct) < count:
            distinct.update(dict.fromkeys(draw_keys(self.workload, rng, count - len(distinct))))
        return batch_cache_request(session, list(distinct), self.payloads)


class Plan:
    """Pre-drawn (operation, request) pairs; iterating yields each once, as bytes."""

    def __init__(self, entries: list[tuple[str, Request]], payloads: Payloads) -> None:
        self.entries = entries
        self.payloads = payloads

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        return self._joined(iter(self.entries))

    def cycle(self) -> Iterator[tuple[str, bytes]]:
        """The plan over and over, forever."""
        return self._joined(itertools.cycle(self.entries))

    def _joined(self, entries: Iterator[tuple[str, Request]]) -> Iterator[tuple[str, bytes]]:
        buffer = self.payloads.buffer
        for op, request in entries:
            yield op, request if isinstance(request, bytes) else request.join(buffer)


def build_plan(workload: Workload, *, size: int, seed: int) -> Plan:
    """``size`` pre-drawn (operation, request) pairs: ops by weight, keys by distribution."""
    rng = random.Random(seed)
    payloads = Payloads(workload)
    builder = RequestBuilder(workload, payloads)
    ops = rng.choices(list(workload.mix), weights=list(workload.mix.values()), k=size)
    keys = draw_keys(workload, rng, size)
    spaces = workload.namespaces()
    entries: list[tuple[str, Request]] = []
    for op, key in zip(ops, keys, strict=True):
        session = rng.choice(spaces)
        if op.startswith("batch_"):
            entries.append((op, builder.batch(op, session, rng)))
        else:
            entries.append((op, builder.single(op, session, key)))
    return Plan(entries, payloads)


class Preload:
    """The calls caching this worker's share of every key, in every namespace.

    Files go in batches within the server's item and message limits; analyses
    (only when the mix reads them) one call each, as there is no batch call.
    Each request is built as it is taken, so a preload holds no payload copies
    but those being sent.
    """

    def __init__(
        self, workload: Workload, payloads: Payloads, *, worker: int, workers: int,
        max_items: int, max_bytes: int,
    ) -> None:  # fmt: skip
        self.payloads = payloads
        self.namespaces = workload.namespaces()
        self.mine = range(worker, workload.keys, workers)
        self.chunks = list(_chunks(self.mine, payloads, max_items=max_items, max_bytes=max_bytes))
        self.analyses = "analysis_get" in workload.mix

    def __len__(self) -> int:
        calls = len(self.chunks) + (len(self.mine) if self.analyses else 0)
        return calls * len(self.namespaces)

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        payloads, buffer = self.payloads, self.payloads.buffer
        for session in self.namespaces:
            for chunk in self.chunks:
                yield "batch_cache", batch_cache_request(session, chunk, payloads).join(buffer)
            for key in self.mine if self.analyses else ():
                put = single_request("analysis_put", session, key, payloads)
                yield "analysis_put", put if isinstance(put, bytes) else put.join(buffer)


def _chunks(keys: range, payloads: Payloads, *, max_items: int, max_bytes: int) -> Iterator[range]:
    """``keys`` in consecutive runs within ``max_items`` items and about ``max_bytes``."""
    start, size = 0, 0
    for index, key in enumerate(keys):
        item = payloads.size(key) + len(key_path(key)) + 16
        if index > start and (index - start >= max_items or size + item > max_bytes):
            yield keys[start:index]
            start, size = index, 0
        size += item
    if start < len(keys):
        yield keys[start:]
