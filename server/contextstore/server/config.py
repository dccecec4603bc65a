"""Server configuration: one frozen dataclass, built once and passed down.

Every field is a command-line flag (``--max-content-bytes``) and an environment
variable (``CONTEXTSTORE_MAX_CONTENT_BYTES``). A flag wins over the environment,
which wins over the default. Sizes and durations use ``contextstore.units``
(``16MiB``, ``250ms``).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contextstore.server.store.base import Budgets
from contextstore.server.store.registry import BACKENDS
from contextstore.units import GiB, KiB, MiB, parse_duration, parse_size

# Fixed by the contract, not configurable: other languages rely on them.
MAX_PATH_BYTES = 4096
MAX_SESSION_ID_BYTES = 256
MAX_ANALYSIS_TYPE_BYTES = 256
# Room beside the largest content for path, labels and framing.
MESSAGE_HEADROOM_BYTES = 1 * MiB

ENV_PREFIX = "CONTEXTSTORE_"


def _opt(help_text: str, default: Any) -> Any:
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: str = _opt(
        "address to listen on, host:port (port 0 picks a free one)", "127.0.0.1:50051"
    )
    backend: str = _opt("storage backend", "memory")
    stripes: int = _opt("lock stripes of the memory backend", 64)
    workers: int = _opt("threads serving RPCs", 16)
    max_concurrent_rpcs: int = _opt(
        "calls admitted at once, from arrival until the response is sent; "
        "past it RESOURCE_EXHAUSTED",
        256,
    )
    max_inflight_response_bytes: int = _opt(
        "total size of responses built but not yet sent; past it RESOURCE_EXHAUSTED", 32 * MiB
    )
    receive_timeout_seconds: float = _opt(
        "longest wait for a call's request to arrive before the call is cancelled", 5.0
    )
    grace_seconds: float = _opt("drain time for in-flight RPCs on SIGTERM/SIGINT", 5.0)
    max_content_bytes: int = _opt("largest file content or analysis result", 16 * MiB)
    max_batch_items: int = _opt("most items in one batch call", 1000)
    max_labels: int = _opt("most labels on one file", 64)
    max_label_key_bytes: int = _opt("longest label key", 256)
    max_label_value_bytes: int = _opt("longest label value", 4 * KiB)
    total_bytes: int = _opt("byte budget of the whole store (0: none)", 1 * GiB)
    session_bytes: int = _opt("byte budget of each namespace (0: none)", 0)
    session_entries: int = _opt("entry budget of each namespace (0: none)", 0)
    session_ttl_seconds: float = _opt("idle time before a session expires (0: never)", 3600.0)
    sweep_seconds: float = _opt("how often idle sessions are swept", 30.0)
    log_level: str = _opt("logging level", "INFO")

    @property
    def max_message_bytes(self) -> int:
        return self.max_content_bytes + MESSAGE_HEADROOM_BYTES

    @property
    def budgets(self) -> Budgets:
        return Budgets(
            total_bytes=self.total_bytes,
            session_bytes=self.session_bytes,
            session_entries=self.session_entries,
            session_ttl_seconds=self.session_ttl_seconds,
        )

    def __post_init__(self) -> None:
        at_least_one = (
            "stripes", "workers", "max_concurrent_rpcs", "max_batch_items",
            "max_inflight_response_bytes",
        )  # fmt: skip
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            least = 1 if f.name in at_least_one else 0
            if isinstance(value, int | float) and value < least:
                raise ValueError(f"{setting_name(f.name)} must be at least {least}, got {value}")
        if self.backend not in BACKENDS:
            available = ", ".join(sorted(BACKENDS))
            raise ValueError(
                f"{setting_name('backend')}: unknown backend {self.backend!r} "
                f"(available: {available})"
            )


def setting_name(name: str) -> str:
    """How a user sets a field: ``--max-batch-items / CONTEXTSTORE_MAX_BATCH_ITEMS``."""
    return f"--{name.replace('_', '-')} / {ENV_PREFIX}{name.upper()}"


def _converter(f: dataclasses.Field[Any]) -> Any:
    if f.name.endswith("_bytes"):
        return parse_size
    if f.name.endswith("_seconds"):
        return parse_duration
    return {"int": int, "float": float, "str": str}[str(f.type)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per field; defaults stay unset so the environment can fill them."""
    for f in dataclasses.fields(ServerConfig):
        env = ENV_PREFIX + f.name.upper()
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=_converter(f),
            default=None,
            help=f"{f.metadata['help']} [env {env}; default {f.default}]",
        )


def from_arguments(args: argparse.Namespace, environ: Mapping[str, str]) -> ServerConfig:
    """Build the config: flags first, then ``CONTEXTSTORE_*``, then defaults."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(ServerConfig):
        flag = getattr(args, f.name, None)
        env = environ.get(ENV_PREFIX + f.name.upper())
        if flag is not None:
            values[f.name] = flag
        elif env is not None:
            values[f.name] = _from_env(f, env)
    return ServerConfig(**values)


def _from_env(f: dataclasses.Field[Any], text: str) -> Any:
    try:
        return _converter(f)(text)
    except (ValueError, argparse.ArgumentTypeError) as e:
        raise ValueError(f"{ENV_PREFIX}{f.name.upper()}={text!r}: {e}") from None


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> ServerConfig:
    parser = argparse.ArgumentParser(prog="contextstore serve")
    add_arguments(parser)
    return from_arguments(parser.parse_args(argv), environ)
