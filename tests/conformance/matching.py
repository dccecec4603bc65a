"""The conformance suite's rules, in one place: generators and partial matching.

Runners (one per language) only call their typed client and print what came
back; everything that decides pass or fail is here, so the five languages are
judged by the same code. README.md beside this file states the rules.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any


def expand(value: Any) -> Any:
    """Replace the ``$bytes`` and ``$string`` generators, recursively."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            spec = value["$bytes"]
            return base64.b64encode(spec["fill"].encode() * spec["count"]).decode()
        if set(value) == {"$string"}:
            return value["$string"]["fill"] * value["$string"]["count"]
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


_RFC3339 = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$", re.IGNORECASE
)


def instant_us(text: str) -> int | None:
    """Microseconds since the epoch of an RFC 3339 time, or None if ``text`` is not one.

    Times compare at microsecond precision: the finest every client keeps
    (Python's ``datetime`` stops there).
    """
    found = _RFC3339.match(text)
    if not found:
        return None
    whole, fraction, zone = found.groups()
    zone = "+00:00" if zone.upper() == "Z" else zone
    seconds = datetime.fromisoformat(whole + zone).astimezone(UTC).timestamp()
    return int(seconds) * 1_000_000 + int((fraction or "0").ljust(9, "0")[:6])


def _is_default(value: Any) -> bool:
    return value is None or value is False or value == 0 or value == "" or value == "0"


def _scalar_equal(expected: Any, actual: Any) -> bool:
    if _is_default(expected) and _is_default(actual):
        return True
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(expected == actual)
    if isinstance(expected, int | float | str) and isinstance(actual, int | float | str):
        if isinstance(expected, str) and isinstance(actual, str):
            a, b = instant_us(expected), instant_us(actual)
            if a is not None and b is not None:
                return a == b
        try:
            return float(expected) == float(actual)
        except ValueError:
            pass
    return bool(expected == actual)


def match(expected: Any, actual: Any, where: str = "result") -> str | None:
    """None when ``actual`` matches ``expected``, else what differs (README's rules)."""
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$"):
        if "$present" in expected:
            missing = _is_default(actual) or actual in ({}, [])
            return f"{where}: missing" if missing else None
        if "$absent" in expected:
            return None if actual is None else f"{where}: expected absent, got {actual!r}"
        if "$at_least" in expected:
            least = expected["$at_least"]
            if isinstance(actual, int | str) and not isinstance(actual, bool):
                try:
                    if int(actual) >= least:
                        return None
                except ValueError:
                    pass
            return f"{where}: expected at least {least}, got {actual!r}"
    if isinstance(expected, dict):
        if actual is not None and not isinstance(actual, dict):
            return f"{where}: expected an object, got {actual!r}"
        actual_dict = actual or {}
        for key, value in expected.items():
            problem = match(value, actual_dict.get(key), f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        got = actual if isinstance(actual, list) else []
        if len(got) != len(expected):
            return f"{where}: expected {len(expected)} items, got {len(got)}"
        pairs = enumerate(zip(expected, got, strict=True))
        problems = (match(e, a, f"{where}[{i}]") for i, (e, a) in pairs)
        return next((p for p in problems if p), None)
    if not _scalar_equal(expected, actual):
        return f"{where}: expected {expected!r}, got {actual!r}"
    return None


def judge(expect: dict[str, Any], outcome: dict[str, Any]) -> str | None:
    """None when a typed step's ``outcome`` is what ``expect`` asks for."""
    if "runner_error" in outcome:
        return f"the runner could not run the step: {outcome['runner_error']}"
    if "error" in expect:
        want = expect["error"]
        got = outcome.get("error")
        if got is None:
            return f"expected {want['code']}, got {_describe(outcome)}"
        if got.get("code") != want["code"]:
            return f"expected {want['code']}, got {got.get('code')}: {got.get('message', '')}"
        if "violations" in want and set(got.get("violations", [])) != set(want["violations"]):
            return f"violations: expected {sorted(want['violations'])}, got {got['violations']}"
        extra = (k for k in want if k not in ("code", "violations"))
        problems = (match(want[k], got.get(k), f"error.{k}") for k in extra)
        return next((p for p in problems if p), None)
    if "miss" in expect:
        return None if outcome.get("miss") is True else f"expected a miss, got {_describe(outcome)}"
    if "result" not in outcome:
        return f"expected a result, got {_describe(outcome)}"
    return match(expect["result"], outcome["result"])


def _describe(outcome: dict[str, Any]) -> str:
    if "error" in outcome:
        error = outcome["error"]
        return f"{error.get('code')}: {error.get('message', '')}"
    return "a miss" if outcome.get("miss") else f"result {outcome.get('result')!r}"
