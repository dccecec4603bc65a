"""The single-path fast check agrees with the full ``Checks`` on every input."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import example, given, settings
from hypothesis import strategies as st

from contextstore.server.config import MAX_PATH_BYTES, MAX_SESSION_ID_BYTES, ServerConfig
from contextstore.server.errors import InvalidArgument
from contextstore.server.store.base import Namespace
from contextstore.server.validation import Checks, namespace_and_path
from contextstore.v1 import context_store_pb2 as pb

CONFIG = ServerConfig()
# Short strings near the limits, with control characters, NUL and non-ASCII in reach.
texts = st.one_of(
    st.text(max_size=8),
    st.text(alphabet=st.sampled_from("ab/\x00\x1f\x7f\x85é€ \t"), max_size=12),
    st.integers(MAX_SESSION_ID_BYTES - 2, MAX_PATH_BYTES + 2).map(lambda n: "a" * n),
    st.integers(MAX_SESSION_ID_BYTES // 2 - 2, MAX_SESSION_ID_BYTES // 2 + 2).map(
        lambda n: "é" * n
    ),
)


def outcome(
    check: Callable[[], tuple[Namespace, str]],
) -> tuple[Namespace, str] | list[tuple[str, str]]:
    try:
        return check()
    except InvalidArgument as error:
        return [(v.field, v.description) for v in error.violations]


def full(request: pb.GetFileRequest) -> tuple[Namespace, str]:
    with Checks(CONFIG) as check:
        ns, path = check.namespace(request), check.path(request.path)
    return ns, path


@settings(max_examples=500)
@given(session_id=st.none() | texts, path=texts)
@example(session_id="s", path="a\x00b")
@example(session_id="s\x7f", path="a")
@example(session_id="é" * (MAX_SESSION_ID_BYTES // 2 + 1), path="a")
@example(session_id=None, path="é" * (MAX_PATH_BYTES // 2 + 1))
@example(session_id="", path="")
def test_fast_check_matches_checks(session_id: str | None, path: str) -> None:
    request = pb.GetFileRequest(path=path)
    if session_id is not None:
        request.session_id = session_id
    assert outcome(lambda: namespace_and_path(request, CONFIG)) == outcome(lambda: full(request))
