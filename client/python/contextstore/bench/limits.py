"""A workload checked against the limits the server advertises, before any load.

A payload over the server's ``max_content_bytes``, or batches of them over its
``max_message_bytes``, would have every such call refused: a run of errors
that measures nothing, or a preload that fails half way. It is a usage error,
said at once (``contextstore bench`` exits 2), naming the setting to change.
"""

from __future__ import annotations

from contextstore.bench.workload import PAYLOAD_OPS, Workload
from contextstore.client import Limits
from contextstore.units import format_size


class OverLimit(ValueError):
    """The workload asks for messages larger than the server takes."""


def check_limits(workload: Workload, limits: Limits, *, preload: bool) -> None:
    """Raise ``OverLimit`` when ``workload`` would send or ask for what the server refuses."""
    problems = _problems(workload, limits, preload=preload)
    if problems:
        raise OverLimit("; ".join(problems))


def _problems(workload: Workload, limits: Limits, *, preload: bool) -> list[str]:
    # Payloads are sent by the preload (every key's file) and by the mix's writes.
    if not (preload or PAYLOAD_OPS & set(workload.mix)):
        return []
    high = workload.payload_bytes[1]
    if high > limits.max_content_bytes:
        return [
            f"--payload-bytes of up to {format_size(high)} is more than the server's "
            f"max_content_bytes ({format_size(limits.max_content_bytes)}): every write of "
            "such a payload would be refused; lower --payload-bytes, or start the server "
            "with a larger --max-content-bytes"
        ]
    batch = min(workload.batch_size, workload.keys) * high
    batched = sorted({"batch_get", "batch_cache"} & set(workload.mix))
    if batched and batch > limits.max_message_bytes:
        return [
            f"{' and '.join(batched)} of --batch-size {workload.batch_size} files of up to "
            f"{format_size(high)} carry up to {format_size(batch)}, more than the server's "
            f"max_message_bytes ({format_size(limits.max_message_bytes)}); lower --batch-size "
            "or --payload-bytes"
        ]
    return []
