"""A live resharding of one hash slot, step by step as Redis documents it.

https://redis.io/docs/latest/commands/cluster-setslot/ ("Redis Cluster live resharding
explained"), which is also what ``redis-cli --cluster reshard`` does:

1. the target marks the slot IMPORTING from the source, then the source marks it MIGRATING
   to the target (this order: a client redirected by ASK must find the target ready);
2. the source's keys of the slot move in batches with MIGRATE, each batch atomic;
3. CLUSTER SETSLOT NODE on the target, the source, then every other primary.

While it runs the source keeps serving the keys it still holds and answers ASK for the others
(TRYAGAIN for a multi-key call whose keys are split), so clients writing the slot see
redirections, never errors. No new key can appear on the source in that state, which is why
the loop ends and why MIGRATE never meets a key already on the target (no REPLACE needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

# Keys per MIGRATE: large enough for few round trips, small enough that the source (blocked
# while it serialises a batch) answers other clients promptly.
BATCH_KEYS = 100
MIGRATE_TIMEOUT_MS = 10_000


def call(client: redis.Redis, *args: str | bytes | int) -> Any:
    """One command, its reply as parsed by redis-py (whose execute_command is unannotated)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def node_id(client: redis.Redis) -> str:
    """The node's cluster id (CLUSTER MYID)."""
    reply = call(client, "CLUSTER", "MYID")
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def move_slot(
    slot: int,
    *,
    source: redis.Redis,
    target: redis.Redis,
    target_address: tuple[str, int],
    others: Sequence[redis.Redis] = (),
) -> int:
    """Move ``slot`` and its keys from ``source`` to ``target``; the number of keys moved.

    ``source`` must answer with raw bytes (no ``decode_responses``): keys need not be UTF-8.
    """
    source_id, target_id = node_id(source), node_id(target)
    call(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    call(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    host, port = target_address
    moved = 0
    while keys := call(source, "CLUSTER", "GETKEYSINSLOT", slot, BATCH_KEYS):
        # NOKEY (all gone meanwhile: expired or deleted) is a reply, not an error.
        call(source, "MIGRATE", host, port, "", 0, MIGRATE_TIMEOUT_MS, "KEYS", *keys)
        moved += len(keys)
    for client in (target, source, *others):
        call(client, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
    return moved
