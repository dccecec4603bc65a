"""W1's other load, in a process of its own: watchers with events flowing to them.

``python -m benchmarks.watch_load --target ADDR --watchers N --namespaces K
--writes-per-second R`` opens N Watch streams spread over K sessions and prints
``ready`` once every stream's first response has come (the server runs them
all). Then it takes commands on stdin, one a line: ``run`` writes R files a
second, round robin over the sessions, and ``pause`` stops writing; each is
answered with a line (``running``, ``paused``) once it has taken effect. When
stdin closes it prints the events its watchers received and the writes it
made, as JSON, and exits.

It runs on the same CPU as the load generator it sits beside, so it is the
asyncio client: grpcio's threaded client wakes every stream's thread ten times
a second to poll, which would slow the load generator, not the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from contextstore.client.aio import AsyncContextStoreClient
from contextstore.client.watch import AsyncWatch


class Watchers:
    """``count`` watch streams over ``namespaces`` sessions, counting the events they get."""

    def __init__(self, client: AsyncContextStoreClient, count: int, namespaces: int) -> None:
        self.events = 0
        self._left = count
        self._opened = asyncio.Event()
        if not count:
            self._opened.set()
        self._watches = [client.session(f"w1-{i % namespaces}").watch() for i in range(count)]
        self._tasks = [asyncio.create_task(self._follow(w)) for w in self._watches]

    async def opened(self) -> None:
        """Returns once every stream's first response has come."""
        await self._opened.wait()

    async def _follow(self, watch: AsyncWatch) -> None:
        first = True
        async for response in watch:
            if first:
                first, self._left = False, self._left - 1
                if not self._left:
                    self._opened.set()
            self.events += len(response.events)

    async def close(self) -> None:
        for watch in self._watches:
            await watch.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Writer:
    """Writes ``per_second`` files a second on a fixed schedule while running."""

    def __init__(self, client: AsyncContextStoreClient, namespaces: int, per_second: float) -> None:
        self.writes = 0
        self._client, self._namespaces, self._per_second = client, namespaces, per_second
        self._running = asyncio.Event()
        self._writing = asyncio.Lock()
        self._task = asyncio.create_task(self._run())

    def run(self) -> None:
        self._running.set()

    async def pause(self) -> None:
        """Stop writing; returns once no write is in flight and none will start."""
        self._running.clear()
        async with self._writing:
            pass

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._running.wait()
            # A schedule from each resumption: a pause is not made up with a burst.
            started, done = loop.time(), 0
            while True:
                async with self._writing:
                    if not self._running.is_set():
                        break
                    n = self.writes
                    session = self._client.session(f"w1-{n % self._namespaces}")
                    await session.cache_file(f"f{n % 100}.py", b"x" * 256)
                    self.writes, done = n + 1, done + 1
                # The schedule paces the load; it synchronizes nothing.
                await asyncio.sleep(max(0.0, started + done / self._per_second - loop.time()))


async def serve(args: argparse.Namespace) -> dict[str, int]:
    """Open the watchers, obey stdin until it closes; what was received and written."""
    loop = asyncio.get_running_loop()
    async with AsyncContextStoreClient(args.target) as client:
        watchers = Watchers(client, args.watchers, args.namespaces)
        await watchers.opened()
        writer = Writer(client, args.namespaces, args.writes_per_second)
        print("ready", flush=True)
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = line.strip()
            if command == "run":
                writer.run()
                print("running", flush=True)
            elif command == "pause":
                await writer.pause()
                print("paused", flush=True)
        await writer.stop()
        await watchers.close()
        return {"events": watchers.events, "writes": writer.writes}


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--watchers", type=int, required=True)
    parser.add_argument("--namespaces", type=int, required=True)
    parser.add_argument("--writes-per-second", type=float, required=True)
    told = asyncio.run(serve(parser.parse_args(argv)))
    print(json.dumps(told), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
