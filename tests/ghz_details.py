"""ghz's per-call records (``--format json``'s ``details``), as ghz writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

START_NS = 1_764_000_000_123_456_789


def ghz_detail(sent_ns: int, latency_ns: int, status: str = "OK") -> dict[str, Any]:
    """One call: stamped with its end (RFC 3339, nanoseconds), as ghz does; latency in ns."""
    end = sent_ns + latency_ns
    whole = datetime.fromtimestamp(end // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return {"timestamp": f"{whole}.{end % 1_000_000_000:09d}Z", "latency": latency_ns,
            "error": "", "status": status}  # fmt: skip
