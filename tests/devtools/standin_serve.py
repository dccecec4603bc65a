"""A stand-in for ``contextstore serve --backend redis``, which the launcher's tests run.

Takes the flags ``devtools.cluster`` passes a server, checks that ``--redis-url`` reaches a
Redis Cluster in ``cluster_state:ok`` (what the real server needs), then becomes the real
``contextstore serve`` on the memory backend at ``--listen``: same startup line, same signals.
With ``--refuse`` it fails the way a server that cannot start does: one line, exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import redis


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--refuse", action="store_true")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--backend", choices=["redis"], required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    if args.refuse:
        sys.exit(f"contextstore serve: cannot listen on {args.listen}: refused by the stand-in")
    with redis.Redis.from_url(args.redis_url, decode_responses=True) as r:
        info: str = r.execute_command("CLUSTER", "INFO")
    state = dict(line.split(":", 1) for line in info.split()).get("cluster_state")
    if state != "ok":
        sys.exit(f"contextstore serve: {args.redis_url} is no cluster in state ok: {state}")
    serve = str(Path(sys.executable).parent / "contextstore")  # run by the venv's python
    os.execv(serve, [serve, "serve", "--listen", args.listen, "--grace-seconds", "1"])


if __name__ == "__main__":
    main()
