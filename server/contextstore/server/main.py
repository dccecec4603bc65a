"""``contextstore serve``: parse the configuration, build the server, serve until a signal."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from contextstore.server import __version__
from contextstore.server import config as config_module
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.server.errors import BackendUnavailable
from contextstore.server.malloc import return_large_blocks_to_the_os
from contextstore.server.observability import logs
from contextstore.server.observability.logs import logfmt
from contextstore.server.security import tls
from contextstore.server.store.base import Store
from contextstore.server.wiring import build_server

log = logging.getLogger("contextstore.server")


def main(argv: Sequence[str]) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status.

    A mistake the operator can fix is one line on stderr, never a traceback:
    a bad setting exits 2, an address that cannot be listened on exits 1.
    """
    try:
        config = config_module.parse(argv, os.environ)
    except ValueError as error:
        return _fail(str(error), 2)
    logs.configure(config.log_level, config.log_format)
    try:
        return serve(config)
    except ValueError as error:  # a setting the backend cannot honour
        return _fail(str(error), 2)
    except (OSError, BackendUnavailable) as error:
        return _fail(str(error), 1)
    except KeyboardInterrupt:  # Ctrl-C before the handlers are in place: nothing to drain
        return 130


def _fail(message: str, status: int) -> int:
    print(f"contextstore serve: {message}", file=sys.stderr)
    return status


def serve(config: ServerConfig) -> int:
    """Serve until SIGTERM or SIGINT, then drain and return the exit status 0."""
    return_large_blocks_to_the_os()
    server = build_server(config)
    # Handlers go in before the started line: a supervisor may signal as soon as it sees it.
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("event=stopping signal=%s grace_seconds=%g", signal.Signals(signum).name,
                 config.grace_seconds)  # fmt: skip
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    _tune_collector()
    log_started(server)
    tls.warn_if_plaintext(config, server.address)
    if server.metrics_address is not None:
        log.info("event=metrics_started listen=%s path=/metrics", logfmt(server.metrics_address))
    if config.session_ttl_seconds > 0:
        sweeper = threading.Thread(
            target=_sweep, args=(server.store, config.sweep_seconds or 1.0, stopping), daemon=True
        )
        sweeper.start()
    while not stopping.wait(3600):
        pass
    server.stop()
    log.info("event=stopped")
    return 0


YOUNG_COLLECTION_THRESHOLD = 100_000
"""Allocations between young collections (Python's default: 700)."""


def _tune_collector() -> None:
    """Make garbage collection cheap for a server that allocates on every call.

    Leave the objects of startup (modules, grpc, protobuf: ~35k) out of every later
    collection. A full collection walked them all, holding the GIL while calls queued:
    28 ms median, 120 ms worst on a busy 2-CPU machine, 0.4 ms once frozen; at 70% of
    the maximum rate a pause takes ~10x its length to drain, in figure 6's p99.

    And collect the young generation every ``YOUNG_COLLECTION_THRESHOLD`` allocations
    rather than every 700: a call allocates dozens of container objects (grpc's call
    state, ours), so the default ran a collection every few calls; measured side by
    side, GetFile used about 10 µs less CPU per call (~6%) with this threshold. The
    objects it lets accumulate are short-lived: at most that many, a few MiB.
    """
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD)
    log.info(
        "event=heap_frozen objects=%d young_threshold=%d",
        gc.get_freeze_count(),
        gc.get_threshold()[0],
    )


def log_started(server: Server) -> None:
    """The ``event=started`` line: where the server listens and every limit it enforces."""
    c = server.config
    properties = " ".join(f"{k}={logfmt(v)}" for k, v in sorted(server.store.properties.items()))
    log.info(
        "event=started version=%s listen=%s backend=%s %s workers=%d "
        "max_concurrent_rpcs=%d max_inflight_response_bytes=%d receive_timeout_seconds=%g "
        "max_content_bytes=%d max_message_bytes=%d max_batch_items=%d "
        "total_bytes=%d session_bytes=%d session_entries=%d session_ttl_seconds=%g",
        __version__, logfmt(server.address), server.store.backend, properties, c.workers,
        c.max_concurrent_rpcs, c.max_inflight_response_bytes, c.receive_timeout_seconds,
        c.max_content_bytes, c.max_message_bytes, c.max_batch_items,
        c.total_bytes, c.session_bytes, c.session_entries, c.session_ttl_seconds,
    )  # fmt: skip


def _sweep(store: Store, every: float, stopping: threading.Event) -> None:
    while not stopping.wait(every):
        try:
            expired = store.expire_idle()
        except BackendUnavailable:
            continue  # the health service reports it; the next sweep tries again
        except Exception:  # the sweeper must outlive any one failed sweep
            log.exception("event=sweep_failed")
            continue
        if expired:
            log.info("event=sessions_expired count=%d", expired)
