"""``contextstore.units``: the one grammar of sizes and durations."""

from __future__ import annotations

import argparse

import pytest

from contextstore.units import parse_duration, parse_size, parse_size_range


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("4096", 4096),
        ("1KiB", 1024),
        ("16MiB", 16 * 1024 * 1024),
        ("1GiB", 1 << 30),
        ("3GiB", 3 << 30),
        (" 2 MiB ", 2 << 20),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text", ["", "MiB", "16MB", "16mib", "16 M", "1.5MiB", "-1", "-1MiB", "16KB", "0x10", "1e6"]
)
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", (100, 100)),
        ("4KiB", (4096, 4096)),
        ("512-2KiB", (512, 2048)),
        ("1MiB", (1 << 20,) * 2),
    ],
)
def test_payload_sizes(text: str, expected: tuple[int, int]) -> None:
    assert parse_size_range(text) == expected


@pytest.mark.parametrize("text", ["2KiB-1KiB", "big", "1TB"])
def test_bad_payload_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size_range(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30.0),
        ("1.5", 1.5),
        ("250ms", 0.25),
        ("30s", 30.0),
        ("5m", 300.0),
        (" 1h ", 3600.0),
        ("-0.5", -0.5),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "--1", "1e3", "5 min", "1h30m", "0x10"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
