"""A property of auth: whatever the identities and the calls, no call reads or changes a
session outside its identity's scope, and PERMISSION_DENIED comes exactly when the rules
of issue 11 say so.

The rules are restated here as a small model, independently of ``security/auth.py``;
a store that records every namespace it is asked about shows what each call touched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.security.auth import AuthInterceptor
from contextstore.server.security.identities import Identities, Identity, Role, token_digest
from contextstore.server.store.base import FileWrite, Namespace, Stats
from contextstore.server.store.memory import StripedStore
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

CONFIG = ServerConfig(listen="127.0.0.1:0", grace_seconds=0, session_ttl_seconds=0)

# The model: which role each RPC needs (issue 11), and which name a session.
READS = {"GetFile", "GetMetadata", "GetAnalysis", "BatchGetFiles", "GetStats", "GetServerInfo"}
WRITES = {"CacheFile", "CacheAnalysis", "InvalidateFile", "InvalidateAnalysis", "ClearSession",
          "BatchCacheFiles"}  # fmt: skip
ADMIN = {"GetStoreStats"}
RANK = {"read": 0, "write": 1, "admin": 2}
WITHOUT_SESSION = {"GetStoreStats", "GetServerInfo"}

SESSIONS: list[str | None] = [None, "", "a", "a/1", "a/2", "ab/1", "b/1"]  # None: field absent
PREFIXES = ["a", "a/", "ab/", "b/"]
ALL = "*"  # what the recording store notes for whole-store stats


def needed_role(method: str) -> str:
    return "read" if method in READS else "write" if method in WRITES else "admin"


def may(identity: Identity, method: str, session: str | None) -> bool:
    """The rules, restated: role first, then scope."""
    if RANK[identity.role] < RANK[needed_role(method)]:
        return False
    if not identity.scope or method == "GetServerInfo":
        return True
    if method == "GetStoreStats" or not session:
        return False
    return any(session.startswith(p) for p in identity.scope)


def request(method: str, session: str | None) -> Any:
    fields: dict[str, Any] = {} if session is None else {"session_id": session}
    build: dict[str, Callable[[], Any]] = {
        "CacheFile": lambda: pb.CacheFileRequest(path="new.py", content=b"n", **fields),
        "GetFile": lambda: pb.GetFileRequest(path="f.py", **fields),
        "GetMetadata": lambda: pb.GetMetadataRequest(path="f.py", **fields),
        "CacheAnalysis": lambda: pb.CacheAnalysisRequest(
            path="f.py", analysis_type="t2", result=b"r", **fields
        ),
        "GetAnalysis": lambda: pb.GetAnalysisRequest(path="f.py", analysis_type="t", **fields),
        "InvalidateFile": lambda: pb.InvalidateFileRequest(path="f.py", **fields),
        "InvalidateAnalysis": lambda: pb.InvalidateAnalysisRequest(path="f.py", **fields),
        "ClearSession": lambda: pb.ClearSessionRequest(**fields),
        "BatchGetFiles": lambda: pb.BatchGetFilesRequest(paths=["f.py", "g.py"], **fields),
        "BatchCacheFiles": lambda: pb.BatchCacheFilesRequest(
            files=[pb.FileUpload(path="b.py", content=b"b")], **fields
        ),
        "GetStats": lambda: pb.GetStatsRequest(**fields),
        "GetStoreStats": lambda: pb.GetStoreStatsRequest(),
        "GetServerInfo": lambda: pb.GetServerInfoRequest(),
    }
    return build[method]()


METHODS = sorted(READS | WRITES | ADMIN)


class Recording(StripedStore):
    """The memory backend, noting every namespace a call asks about."""

    def __init__(self) -> None:
        super().__init__(stripes=4)
        self.touched: list[Namespace] = []


def _recorded(name: str) -> Callable[..., Any]:
    def method(self: Recording, ns: Namespace, *args: Any, **kwargs: Any) -> Any:
        self.touched.append(ns)
        return getattr(StripedStore, name)(self, ns, *args, **kwargs)

    return method


for _name in ("cache_file", "get_file", "get_metadata", "cache_analysis", "get_analysis",
              "invalidate_file", "invalidate_analysis", "clear_session", "batch_get_files",
              "batch_cache_files", "stats"):  # fmt: skip
    setattr(Recording, _name, _recorded(_name))


def _store_stats(self: Recording) -> Stats:
    self.touched.append(ALL)
    return StripedStore.store_stats(self)


setattr(Recording, "store_stats", _store_stats)  # noqa: B010 - patched like the others


def namespace(session: str | None) -> Namespace:
    return session or None


def snapshot(store: Recording) -> dict[Namespace, Stats]:
    """Every session's state and hit counters, read without being recorded."""
    return {namespace(s): StripedStore.stats(store, namespace(s)) for s in SESSIONS}


def seed(store: Recording) -> None:
    """Each session holds f.py with an analysis, and nothing else."""
    for session in SESSIONS:
        ns = namespace(session)
        StripedStore.clear_session(store, ns)
        StripedStore.cache_file(store, ns, FileWrite("f.py", b"f", {}, None))
        StripedStore.cache_analysis(store, ns, "f.py", "t", b"r")
    store.touched.clear()


@dataclass
class Table:
    """The identities the interceptor sees; each example sets its own."""

    identities: Identities = field(default_factory=Identities)

    def __call__(self) -> Identities:
        return self.identities


identities = st.lists(
    st.builds(
        lambda role, scope: (role, tuple(scope)),
        st.sampled_from(["read", "write", "admin"]),
        st.one_of(st.just([]), st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=2)),
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def calls(draw: st.DrawFn, people: int) -> list[tuple[int, str, str | None]]:
    """Every RPC by every identity and by an unknown token, on drawn sessions, in a drawn
    order: each rule is met in every example, not only when the draw happens on it."""
    each = [(who, method) for who in range(people + 1) for method in METHODS]
    sessions = draw(st.lists(st.sampled_from(SESSIONS), min_size=len(each), max_size=len(each)))
    made = [(who, method, s) for (who, method), s in zip(each, sessions, strict=True)]
    return draw(st.permutations(made))


def test_no_call_leaves_its_identitys_scope_and_denials_follow_the_rules() -> None:
    store = Recording()
    table = Table()
    server = Server(CONFIG, store, interceptors=[AuthInterceptor(table)])
    server.start()
    try:
        with grpc.insecure_channel(server.address) as channel:
            _check_calls(pb_grpc.ContextStoreServiceStub(channel), store, table)
    finally:
        server.stop(grace=0)


def _check_calls(stub: pb_grpc.ContextStoreServiceStub, store: Recording, table: Table) -> None:
    seen: Counter[str] = Counter()  # that the examples did exercise each outcome

    @settings(max_examples=20, deadline=None, database=None)
    @given(identities, st.data())
    def check(drawn: list[tuple[str, tuple[str, ...]]], data: st.DataObject) -> None:
        made = data.draw(calls(len(drawn)))
        people = [
            Identity(f"id{i}", cast(Role, role), scope, token_sha256=token_digest(f"token-{i}"))
            for i, (role, scope) in enumerate(drawn)
        ]
        table.identities = Identities(people)
        seed(store)
        for index, method, session in made:
            known = index < len(people)
            before = snapshot(store)
            store.touched.clear()
            code = _call(stub, method, session, f"token-{index}")
            touched = set(store.touched)
            if not known:
                assert code == grpc.StatusCode.UNAUTHENTICATED and not touched
                continue
            who = people[index]
            allowed = may(who, method, session)
            seen[
                f"{'scoped' if who.scope else 'unscoped'} {'allowed' if allowed else 'denied'}"
            ] += 1
            assert (code == grpc.StatusCode.PERMISSION_DENIED) == (not allowed), (who, method)
            if not allowed:
                assert not touched and snapshot(store) == before
            elif who.scope:
                assert touched <= {namespace(session)}
            after = snapshot(store)
            for s in SESSIONS:  # outside the scope nothing moved, not even a hit counter
                if who.scope and not (s and s.startswith(who.scope)):
                    assert after[namespace(s)] == before[namespace(s)], (who, method, s)

    check()
    assert min(seen[f"{s} {a}"] for s in ("scoped", "unscoped") for a in ("allowed", "denied")) > 0


def _call(
    stub: pb_grpc.ContextStoreServiceStub, method: str, session: str | None, token: str
) -> grpc.StatusCode:
    try:
        getattr(stub, method)(
            request(method, session), metadata=(("authorization", f"Bearer {token}"),), timeout=10
        )
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return grpc.StatusCode.OK
