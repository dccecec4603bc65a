"""``contextstore.units``: the one grammar of sizes and durations, and how they are printed."""

from __future__ import annotations

import argparse

import pytest

from contextstore.units import (
    format_duration,
    format_size,
    parse_duration,
    parse_size,
    parse_size_range,
)

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("4096", 4096),
        ("4096B", 4096),
        ("4096b", 4096),
        ("1KiB", 1024),
        ("16MiB", 16 * MiB),
        ("1GiB", GiB),
        ("3GiB", 3 * GiB),
        (" 2 MiB ", 2 * MiB),
        # Bare K/M/G are binary, whatever the case.
        ("16M", 16 * MiB),
        ("16m", 16 * MiB),
        ("16 M", 16 * MiB),
        ("2k", 2 * KiB),
        ("1G", GiB),
        # KiB/MiB/GiB in any case.
        ("16mib", 16 * MiB),
        ("16MIB", 16 * MiB),
        ("8kib", 8 * KiB),
        # KB/MB/GB are decimal (SI), whatever the case.
        ("16MB", 16_000_000),
        ("16mb", 16_000_000),
        ("16KB", 16_000),
        ("2GB", 2_000_000_000),
        ("2gb", 2_000_000_000),
        # Fractions: exact where they can be, else the nearest byte.
        ("1.5GiB", 3 * GiB // 2),
        ("0.5M", MiB // 2),
        (".25KiB", 256),
        ("1.5MB", 1_500_000),
        ("4096.0", 4096),
        ("0.1KiB", 102),  # 102.4
        ("0.3KiB", 307),  # 307.2
        ("0.0007KiB", 1),  # 0.7168
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", " ", "MiB", "B", "-1", "-1MiB", "0x10", "1e6", "16 M B", "16MiBs", "1TB", "16mi", "1,5M"],
)
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a size"):
        parse_size(text)


@pytest.mark.parametrize("text", ["1.5", "1.5B", "0.5b"])
def test_a_size_in_bytes_is_a_whole_number(text: str) -> None:
    with pytest.raises(ValueError, match="not a whole number of bytes"):
        parse_size(text)


def test_unknown_size_unit_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown unit 'XB' \(B, K/KiB, M/MiB, G/GiB binary"):
        parse_size("16XB")


def test_an_absurdly_long_number_is_refused_not_computed() -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size("9" * 5000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", (100, 100)),
        ("4KiB", (4096, 4096)),
        ("512-2KiB", (512, 2048)),
        ("1MiB", (MiB, MiB)),
        ("1KB-1MB", (1000, 1_000_000)),
        ("1k-1.5m", (KiB, 3 * MiB // 2)),
    ],
)
def test_payload_sizes(text: str, expected: tuple[int, int]) -> None:
    assert parse_size_range(text) == expected


@pytest.mark.parametrize("text", ["2KiB-1KiB", "big", "1TB", "1MB-1MiB-2MiB", "2K-2KB"])
def test_bad_payload_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size_range(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30.0),
        ("1.5", 1.5),
        ("1.", 1.0),
        ("250ms", 0.25),
        ("30s", 30.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("15m", 900.0),
        (" 1h ", 3600.0),
        ("1.5h", 5400.0),
        ("2d", 172800.0),
        ("-0.5", -0.5),
        ("-2m", -120.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "s", "--1", "1e3", "5 min", "1h30m", "0x10", "15M", "1H", "inf", "nan", "1w"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (256, "256 B"),
        (1000, "1 KB"),
        (1536, "1536 B"),
        (KiB, "1 KiB"),
        (4 * KiB, "4 KiB"),
        (16 * MiB, "16 MiB"),
        (32 * MiB, "32 MiB"),
        (GiB, "1 GiB"),
        (3 * GiB, "3 GiB"),
        (1024 * GiB, "1024 GiB"),
        (16_000, "16 KB"),
        (16_000_000, "16 MB"),
        (2_000_000_000, "2 GB"),
        (2_146_435_071, "2146435071 B"),
    ],
)
def test_format_size_is_exact_and_reads_back(value: int, text: str) -> None:
    assert format_size(value) == text
    assert parse_size(text) == value


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (5, "5s"),
        (30, "30s"),
        (90, "90s"),
        (60, "1m"),
        (900, "15m"),
        (3600, "1h"),
        (5400, "90m"),
        (86400, "1d"),
        (0.25, "250ms"),
        (0.001, "1ms"),
        (1.5, "1.5s"),
        (2.5, "2.5s"),
    ],
)
def test_format_duration_reads_back(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds
