"""``contextstore.server.errors``: what a status may say of the caller's input.

A status rides in HTTP/2 trailers that clients refuse past 8 KiB, so quoting,
clipping and listing violations must keep it bounded whatever the input.
"""

from __future__ import annotations

from urllib.parse import quote as percent_encode

from hypothesis import given
from hypothesis import strategies as st

from contextstore.server.errors import (
    LISTED_VIOLATIONS,
    MAX_MESSAGE_BYTES,
    QUOTED_BYTES,
    FieldViolation,
    InvalidArgument,
    clip,
    quote,
    wire_bytes,
)

# What gRPC sends as is in grpc-message: printable ASCII but "%".
UNRESERVED = "".join(chr(c) for c in range(0x20, 0x7F) if c != ord("%"))


def sent(text: str) -> int:
    """Bytes of ``text`` as grpc-message, percent-encoded independently of the code."""
    return len(percent_encode(text, safe=UNRESERVED))


@given(st.text())
def test_wire_bytes_is_the_percent_encoded_length(text: str) -> None:
    assert wire_bytes(text) == sent(text)


@given(st.text(), st.integers(3, 200))
def test_clip_fits_the_limit_and_keeps_a_prefix(text: str, limit: int) -> None:
    clipped = clip(text, limit)
    assert sent(clipped) <= limit
    if sent(text) <= limit:
        assert clipped == text
    else:
        assert clipped.endswith("...")
        assert text.startswith(clipped[:-3])
        # Nothing more would have fitted: the next character overflows.
        longer = text[: len(clipped) - 3 + 1] + "..."
        assert sent(longer) > limit


def test_clip_reads_no_further_than_the_limit() -> None:
    huge = "x" * 10_000_000
    assert clip(huge, 10) == "x" * 7 + "..."


def test_quote_keeps_short_strings_whole() -> None:
    assert quote("src/app.py") == "'src/app.py'"
    assert quote("a" * 2 * QUOTED_BYTES) == repr("a" * 2 * QUOTED_BYTES)


def test_quote_shortens_long_strings_in_the_middle() -> None:
    path = "head/" + "é" * 2040 + "/tail.py"
    quoted = quote(path)
    assert quoted.startswith("'head/é") and quoted.endswith("é/tail.py' (4093 bytes)")
    assert "'...'" in quoted
    ascii_path = "src/" + "a" * 5000 + "/main.py"
    assert quote(ascii_path) == repr(ascii_path[:128]) + "..." + repr(ascii_path[-128:]) + (
        " (5012 bytes)"
    )


@given(st.text(min_size=1, max_size=5000))
def test_a_quote_is_bounded_whatever_the_text(text: str) -> None:
    # Each end within its budget, plus quotes, the cut and the size.
    assert sent(quote(text)) <= 2 * QUOTED_BYTES + 40


def test_invalid_argument_lists_the_first_violations_and_counts_the_rest() -> None:
    violations = [FieldViolation(f"paths[{i}]", "must not be empty") for i in range(20_000)]
    error = InvalidArgument(violations)
    assert error.violations == violations[:LISTED_VIOLATIONS]
    assert error.more == 20_000 - LISTED_VIOLATIONS
    message = str(error)
    assert message.startswith("paths[0]: must not be empty; paths[1]: ")
    assert message.endswith(f"; and {20_000 - LISTED_VIOLATIONS} more")
    assert "paths[10]" not in message


def test_invalid_argument_counts_violations_the_caller_did_not_keep() -> None:
    error = InvalidArgument([FieldViolation("paths[0]", "must not be empty")], unlisted=5)
    assert (len(error.violations), error.more) == (1, 5)
    assert str(error) == "paths[0]: must not be empty; and 5 more"
    assert str(InvalidArgument([FieldViolation("path", "x")])) == "path: x"


def test_the_count_survives_however_long_the_listed_violations() -> None:
    long = [FieldViolation("f" * 500, "d" * 500) for _ in range(20)]
    message = str(InvalidArgument(long))
    assert sent(message) <= MAX_MESSAGE_BYTES
    assert message.endswith("...; and 10 more")
