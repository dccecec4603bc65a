"""A workload over the server's advertised limits is refused before any load."""

from __future__ import annotations

import dataclasses

import pytest

from contextstore.bench.limits import OverLimit, check_limits
from contextstore.bench.workload import Workload, parse_mix
from contextstore.client import ContextStoreClient, Limits

MiB = 1 << 20


@pytest.fixture
def limits(client: ContextStoreClient) -> Limits:
    """What a real server advertises, with the message limit the default server has."""
    advertised = client.server_info().limits
    return dataclasses.replace(advertised, max_content_bytes=16 * MiB, max_message_bytes=17 * MiB)


def _workload(mix: str, payload: tuple[int, int], *, batch_size: int = 10, keys: int = 1000
              ) -> Workload:  # fmt: skip
    return Workload(mix=parse_mix(mix), payload_bytes=payload, batch_size=batch_size, keys=keys)


@pytest.mark.parametrize(
    ("mix", "preload"),
    [("get=1", True), ("cache=1", False), ("analysis_put=1", False), ("batch_cache=1", False)],
)
def test_a_payload_over_max_content_bytes_is_refused(
    limits: Limits, mix: str, preload: bool
) -> None:
    workload = _workload(mix, (1024, 20 * MiB), batch_size=1)

    with pytest.raises(OverLimit) as refused:
        check_limits(workload, limits, preload=preload)

    message = str(refused.value)
    assert "--payload-bytes of up to 20 MiB" in message
    assert "max_content_bytes (16 MiB)" in message


def test_a_payload_at_the_limit_passes(limits: Limits) -> None:
    check_limits(_workload("cache=1", (16 * MiB, 16 * MiB)), limits, preload=True)


def test_payload_size_does_not_matter_when_nothing_sends_one(limits: Limits) -> None:
    # Reads of keys never written: the payload size is never used.
    check_limits(_workload("get=1,metadata=1", (64 * MiB, 64 * MiB)), limits, preload=False)


@pytest.mark.parametrize("op", ["batch_cache", "batch_get"])
def test_batches_over_max_message_bytes_are_refused(limits: Limits, op: str) -> None:
    workload = _workload(f"{op}=1", (1024, 2 * MiB), batch_size=10)

    with pytest.raises(OverLimit) as refused:
        check_limits(workload, limits, preload=True)

    message = str(refused.value)
    assert f"{op} of --batch-size 10 files of up to 2 MiB carry up to 20 MiB" in message
    assert "max_message_bytes (17 MiB)" in message


def test_a_batch_is_no_larger_than_the_keys(limits: Limits) -> None:
    # Eight keys make batches of eight, whatever --batch-size says: 16 MiB fits.
    check_limits(_workload("batch_cache=1", (2 * MiB, 2 * MiB), batch_size=10, keys=8),
                 limits, preload=True)  # fmt: skip
