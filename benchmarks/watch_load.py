"""W1's other load, in a process of its own: watchers with events flowing to them.

``python -m benchmarks.watch_load --target ADDR --watchers N --namespaces K
--writes-per-second R`` opens N Watch streams spread over K sessions, prints
``ready`` once every stream's first response has come (the server runs them
all), then writes R files a second, round robin over the sessions, until its
stdin closes; then it prints the events its watchers received and the writes
it made, as JSON, and exits.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence

from contextstore.client import ContextStoreClient


class Watchers:
    """``count`` watch streams over ``namespaces`` sessions, counting the events they get."""

    def __init__(self, client: ContextStoreClient, count: int, namespaces: int) -> None:
        self.events = 0
        self._lock = threading.Lock()
        self._opened = threading.Semaphore(0)
        self._watches = [client.session(f"w1-{i % namespaces}").watch() for i in range(count)]
        for watch in self._watches:
            threading.Thread(target=self._follow, args=(watch,), daemon=True).start()
        for _ in range(count):
            self._opened.acquire()

    def _follow(self, watch: object) -> None:
        first = True
        for response in watch:  # type: ignore[attr-defined]
            if first:
                self._opened.release()
                first = False
            with self._lock:
                self.events += len(response.events)

    def close(self) -> None:
        for watch in self._watches:
            watch.close()


def _write(
    client: ContextStoreClient, namespaces: int, per_second: float, stop: threading.Event
) -> int:
    """Write ``per_second`` files a second on a fixed schedule until ``stop``; how many."""
    started, writes = time.monotonic(), 0
    while not stop.is_set():
        client.session(f"w1-{writes % namespaces}").cache_file(f"f{writes % 100}.py", b"x" * 256)
        writes += 1
        # The schedule paces the load; it synchronizes nothing.
        stop.wait(max(0.0, started + writes / per_second - time.monotonic()))
    return writes


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--watchers", type=int, required=True)
    parser.add_argument("--namespaces", type=int, required=True)
    parser.add_argument("--writes-per-second", type=float, required=True)
    args = parser.parse_args(argv)
    with ContextStoreClient(args.target) as client:
        watchers = Watchers(client, args.watchers, args.namespaces)
        print("ready", flush=True)
        stop, done = threading.Event(), [0]

        def writer() -> None:
            done[0] = _write(client, args.namespaces, args.writes_per_second, stop)

        writing = threading.Thread(target=writer)
        writing.start()
        sys.stdin.read()  # until the parent closes it
        stop.set()
        writing.join()
        watchers.close()
        print(json.dumps({"events": watchers.events, "writes": done[0]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
