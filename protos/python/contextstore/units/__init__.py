"""The units contextstore's command lines and settings files read and print: sizes and durations.

One grammar for every part that reads them (contextstore serve flags and
CONTEXTSTORE_* variables, contextstore bench flags and scenario files), so
16MiB or 250ms mean the same wherever they are written. Neutral code: it
imports nothing of the client or the server, and both may use it.

Why a grammar of our own and not a library: the candidates either read the
units another way or would add a dependency where none may go. humanfriendly
is unmaintained (last release 2021) and reads a bare 16M as decimal; bitmath's
strict parser is case-sensitive and has no bare K/M/G, and its lenient one
reads 16MB as binary (or 16MiB as decimal), against the convention below;
pydantic's ByteSize brings a large dependency for one regular expression. This
module ships in the base distribution, whose dependencies are fixed (grpcio,
grpcio-status, protobuf, googleapis-common-protos), and the grammar is a table.

Sizes, case-insensitive, a space allowed before the unit:
  4096, 4096B               bytes
  16K, 16KiB                binary:  x 1024 (likewise M/MiB x 1024^2, G/GiB x 1024^3)
  16KB                      decimal: x 1000 (likewise MB x 1000^2, GB x 1000^3)
  1.5GiB, 0.5M              fractions, rounded to the nearest byte (bytes must be whole)
Durations: 30 or 30s (seconds), 1.5, 250ms, 15m, 1h, 2d.
"""

from __future__ import annotations

import argparse
import re
from decimal import ROUND_HALF_EVEN, Decimal

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

# Bounds past which a value breaks something rather than being unwise, shared
# by the server's settings and the command lines' flags.
MAX_GRPC_MESSAGE_BYTES = (1 << 31) - 1
"""gRPC's message-size channel arguments are C ints: a larger one fails inside grpcio."""
MAX_SECONDS = 3650 * 86400.0
"""Timers, deadlines and Durations overflow past a few centuries; ten years is plenty."""
KB, MB, GB = 10**3, 10**6, 10**9

# What --help says: one line each, for the epilog of any parser that reads units.
SIZE_HELP = (
    "SIZE: 4096 or 4096B (bytes); 16K = 16KiB = 16 x 1024 (binary); 16KB = 16 x 1000 "
    "(decimal); likewise M/MiB/MB and G/GiB/GB; case-insensitive; fractions such as 1.5GiB."
)
DURATION_HELP = "DURATION: 30 or 30s (seconds), 1.5, 250ms, 15m, 1h, 2d."

# At most 30 digits: enough for any size or duration, and no number so long
# that reading it is itself the problem.
_NUMBER = r"(\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})"
_SIZE = re.compile(rf"^\s*{_NUMBER}\s*([a-z]*)\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": KiB, "kib": KiB, "kb": KB,
    "m": MiB, "mib": MiB, "mb": MB,
    "g": GiB, "gib": GiB, "gb": GB,
}  # fmt: skip
# How sizes are printed: binary first, so that a tie goes to it.
_FORMAT_UNITS = (
    (1, "B"),
    (GiB, "GiB"),
    (MiB, "MiB"),
    (KiB, "KiB"),
    (GB, "GB"),
    (MB, "MB"),
    (KB, "KB"),
)
# A sign is read, so that a negative duration reaches the setting's own check
# ("must be at least 0") instead of a vaguer "not a duration". Case matters
# here: m is minutes, and an M could be read as months.
_DURATION = re.compile(rf"^\s*(-?){_NUMBER}\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {None: 1.0, "s": 1.0, "ms": 1e-3, "m": 60.0, "h": 3600.0, "d": 86400.0}


class InvalidUnit(ValueError, argparse.ArgumentTypeError):
    """Text that is not a size or a duration.

    A ValueError for code that parses settings, and an argparse type error
    so that a flag's message is this one, not argparse's generic one.
    """


def parse_size(text: str) -> int:
    """Bytes: "4096", "512B", "1K", "1KiB", "16MB", "16mib", "1.5GiB" (see the module's doc)."""
    match = _SIZE.match(text)
    if not match:
        raise InvalidUnit(f"not a size: {text!r} (e.g. 4096, 64KiB, 16MB, 1.5GiB)")
    number, unit = Decimal(match.group(1)), match.group(2).lower()
    factor = _SIZE_UNITS.get(unit)
    if factor is None:
        raise InvalidUnit(
            f"not a size: {text!r}: unknown unit {match.group(2)!r} "
            "(B, K/KiB, M/MiB, G/GiB binary; KB, MB, GB decimal)"
        )
    exact = number * factor
    if factor == 1 and exact != exact.to_integral_value():
        raise InvalidUnit(f"not a size: {text!r} is not a whole number of bytes")
    # A fraction of a larger unit rounds to the nearest byte: an error under
    # one byte in a thousand or more.
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def parse_size_range(text: str) -> tuple[int, int]:
    """``"4KiB"`` -> (4096, 4096); ``"512-64KiB"`` -> (512, 65536)."""
    low, sep, high = text.partition("-")
    bounds = (parse_size(low), parse_size(high if sep else low))
    if bounds[0] > bounds[1]:
        raise InvalidUnit(f"not a size range: {text!r} (the low end is above the high end)")
    return bounds


def parse_duration(text: str) -> float:
    """Seconds: "30", "1.5", "250ms", "90s", "15m", "1h", "2d"."""
    match = _DURATION.match(text)
    if not match:
        raise InvalidUnit(f"not a duration: {text!r} (e.g. 30, 1.5s, 250ms, 15m, 1h)")
    sign = -1.0 if match.group(1) else 1.0
    return sign * float(match.group(2)) * _DURATION_UNITS[match.group(3)]


def format_size(value: int) -> str:
    """The exact spelling with the smallest number: 16777216 -> "16 MiB", 5000000 -> "5 MB".

    Exact, so that what --help shows reads back as the same number of bytes.
    """
    spellings = [(value // f, u) for f, u in _FORMAT_UNITS if value and value % f == 0]
    number, unit = min(spellings, default=(value, "B"), key=lambda s: s[0])
    return f"{number} {unit}"


def format_duration(seconds: float) -> str:
    """The largest whole unit: 3600 -> "1h", 90 -> "90s", 0.25 -> "250ms", 1.5 -> "1.5s"."""
    if seconds and seconds == int(seconds):
        whole = int(seconds)
        for factor, unit in ((86400, "d"), (3600, "h"), (60, "m")):
            if whole % factor == 0:
                return f"{whole // factor}{unit}"
        return f"{whole}s"
    millis = seconds * 1000
    if 0 < abs(seconds) < 1 and millis == round(millis):
        return f"{round(millis)}ms"
    return f"{seconds:g}s"
