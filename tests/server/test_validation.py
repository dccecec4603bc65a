"""``Checks``: the single-path fast check agrees with the full one on every
input, and a report stays bounded however many violations a request has."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contextstore.server.config import MAX_PATH_BYTES, MAX_SESSION_ID_BYTES, ServerConfig
from contextstore.server.errors import LISTED_VIOLATIONS, InvalidArgument
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


# -- bounded reports -------------------------------------------------------------


class Untouchable(list[str]):
    """A batch that claims a billion items and fails if any is looked at."""

    def __len__(self) -> int:
        return 10**9

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("an item of an over-long batch was looked at")


def violations_of(
    check: Callable[[Checks], object], config: ServerConfig = CONFIG
) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info, Checks(config) as checks:
        check(checks)
    return info.value


def test_a_batch_over_the_item_limit_is_refused_on_its_count_alone() -> None:
    checks: list[Callable[[Checks], object]] = [
        lambda c: c.paths(Untouchable()),
        lambda c: c.file_writes(Untouchable()),  # type: ignore[arg-type]
    ]
    for check in checks:
        error = violations_of(check)
        assert [v.field for v in error.violations] in (["paths"], ["files"])
        assert error.more == 0


def test_thousands_of_violations_keep_ten_and_count_the_rest() -> None:
    config = ServerConfig(max_batch_items=20_000)
    error = violations_of(lambda c: c.paths([""] * 20_000), config)
    assert [v.field for v in error.violations] == [f"paths[{i}]" for i in range(LISTED_VIOLATIONS)]
    assert error.more == 20_000 - LISTED_VIOLATIONS
    uploads = [pb.FileUpload(path="a")] * 3 + [pb.FileUpload(path="")] * 20
    error = violations_of(lambda c: c.file_writes(uploads), config)
    assert [(v.field, v.description) for v in error.violations[:2]] == [
        ("files[1].path", "repeats the path of files[0]"),
        ("files[2].path", "repeats the path of files[0]"),
    ]
    assert error.more == 22 - LISTED_VIOLATIONS
