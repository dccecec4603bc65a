"""The units contextstore's command lines and settings files read: sizes and durations.

One grammar for every part that reads them (``contextstore serve`` flags and
``CONTEXTSTORE_*`` variables, ``contextstore bench`` flags and scenario files),
so ``16MiB`` or ``250ms`` mean the same wherever they are written. Neutral
code: it imports nothing of the client or the server, and both may use it.
"""

from __future__ import annotations

import argparse
import re

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*$")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": KiB, "MiB": MiB, "GiB": GiB}
# A sign is read, so that a negative duration reaches the setting's own check
# ("must be at least 0") instead of a vaguer "not a duration".
_DURATION = re.compile(r"^\s*(-?(?:\d+(?:\.\d*)?|\.\d+))\s*(ms|s|m|h)?\s*$")
_DURATION_UNITS = {None: 1.0, "s": 1.0, "ms": 1e-3, "m": 60.0, "h": 3600.0}


class InvalidUnit(ValueError, argparse.ArgumentTypeError):
    """Text that is not a size or a duration.

    A ``ValueError`` for code that parses settings, and an argparse type error
    so that a flag's message is this one, not argparse's generic one.
    """


def parse_size(text: str) -> int:
    """Bytes: ``"4096"``, ``"512B"``, ``"1KiB"``, ``"16MiB"``, ``"1GiB"`` (binary units only)."""
    match = _SIZE.match(text)
    if not match:
        raise InvalidUnit(f"not a size: {text!r} (e.g. 4096, 16MiB, 1GiB)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def parse_size_range(text: str) -> tuple[int, int]:
    """``"4KiB"`` -> (4096, 4096); ``"512-64KiB"`` -> (512, 65536)."""
    low, sep, high = text.partition("-")
    bounds = (parse_size(low), parse_size(high if sep else low))
    if bounds[0] > bounds[1]:
        raise InvalidUnit(f"not a size range: {text!r} (the low end is above the high end)")
    return bounds


def parse_duration(text: str) -> float:
    """Seconds: ``"30"``, ``"1.5"``, ``"250ms"``, ``"30s"``, ``"5m"``, ``"1h"``."""
    match = _DURATION.match(text)
    if not match:
        raise InvalidUnit(f"not a duration: {text!r} (e.g. 30, 1.5s, 250ms, 5m)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]
