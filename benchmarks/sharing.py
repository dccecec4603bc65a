"""Figure W3: what many sessions caching the same files cost, against distinct files.

Each side runs in a fresh interpreter (``python -m benchmarks.sharing``), as
5a does, and reads VmRSS before and after 100 sessions cache 1,000 files of
4 KiB each into the in-process memory backend: the same 1,000 contents in
every session (each write a new ``bytes`` object, as a request brings it),
or 100,000 distinct ones. The ratio is what sharing contents across
namespaces leaves of the cost.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks import procs
from benchmarks.figures import Figure, Measure, Target

W3_TARGET = Target("<=", 0.15)
MODULE = "benchmarks.sharing"
CONTENT_BYTES = 4096


@dataclass(frozen=True, slots=True)
class SharingScale:
    sessions: int = 100
    files: int = 1000


def _content(i: int) -> bytes:
    """A new 4 KiB object every call: distinct objects, equal for equal ``i``."""
    return i.to_bytes(8, "little") * (CONTENT_BYTES // 8)


def _fill_and_measure(sessions: int, files: int, *, same: bool) -> dict[str, int]:
    """In this (fresh) process: VmRSS growth of ``sessions`` x ``files`` cached files."""
    from contextstore.server.store.base import Budgets, FileWrite
    from contextstore.server.store.memory import StripedStore

    store = StripedStore(budgets=Budgets(total_bytes=0, session_ttl_seconds=0))
    gc.collect()
    before = procs.status_field(os.getpid(), "VmRSS")
    for s in range(sessions):
        writes = [
            FileWrite(f"src/pkg_{i % 10}/module_{i}.py", _content(i if same else s * files + i))
            for i in range(files)
        ]
        store.batch_cache_files(f"agent-{s}", writes)
        del writes
    gc.collect()
    after = procs.status_field(os.getpid(), "VmRSS")
    stats = store.store_stats()
    assert stats.files == sessions * files
    return {"growth": after - before, "bytes": stats.bytes, "held_bytes": stats.held_bytes}


def _side(scale: SharingScale, *, same: bool) -> dict[str, int]:
    argv = [sys.executable, "-m", MODULE, "--sessions", str(scale.sessions)]
    argv += ["--files", str(scale.files), *(["--same"] if same else [])]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=procs.REPO)
    result: dict[str, int] = json.loads(done.stdout)
    return result


def shared_vs_distinct(scale: SharingScale | None = None) -> Figure:
    """W3: RSS growth of sessions caching the same files ÷ of sessions caching distinct ones."""
    scale = scale or SharingScale()
    same, distinct = _side(scale, same=True), _side(scale, same=False)
    how = f"{scale.sessions} sessions x {scale.files:,} files of {CONTENT_BYTES // 1024} KiB"
    return Figure(
        key="W3",
        title="Memory of sessions caching the same files ÷ of sessions caching distinct ones",
        numerator=Measure(same["growth"], "B", f"VmRSS growth, the same files in each ({how})"),
        denominator=Measure(distinct["growth"], "B", f"VmRSS growth, distinct files ({how})"),
        target=W3_TARGET,
        notes=(
            "in fresh interpreters, in-process StripedStore (64 stripes), no budgets",
            f"GetStoreStats: bytes {same['bytes']:,} both ways (every namespace is charged "
            f"for what it holds); held_bytes {same['held_bytes']:,} with the same files, "
            f"{distinct['held_bytes']:,} distinct",
        ),
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description="figure W3's measuring child")
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--files", type=int, required=True)
    parser.add_argument("--same", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(_fill_and_measure(args.sessions, args.files, same=args.same)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
