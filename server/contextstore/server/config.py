"""Server configuration: one frozen dataclass, built once and passed down.

Every field is a command-line flag (--max-content-bytes) and an environment
variable (CONTEXTSTORE_MAX_CONTENT_BYTES). A flag wins over the environment,
which wins over the default. Sizes and durations use contextstore.units
(16MiB, 16MB, 250ms, 1h).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contextstore.server import __version__, listen
from contextstore.server.store.base import Budgets
from contextstore.server.store.registry import BACKENDS
from contextstore.units import (
    DURATION_HELP,
    MAX_GRPC_MESSAGE_BYTES,
    MAX_SECONDS,
    SIZE_HELP,
    GiB,
    KiB,
    MiB,
    format_duration,
    format_size,
    parse_duration,
    parse_size,
)

# Fixed by the contract, not configurable: other languages rely on them.
MAX_PATH_BYTES = 4096
MAX_SESSION_ID_BYTES = 256
MAX_ANALYSIS_TYPE_BYTES = 256
# Room beside the largest content for path, labels and framing.
MESSAGE_HEADROOM_BYTES = 1 * MiB

ENV_PREFIX = "CONTEXTSTORE_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

# Upper bounds, each where a larger value would break something rather than be unwise.
MAX_CONTENT_BYTES = MAX_GRPC_MESSAGE_BYTES - MESSAGE_HEADROOM_BYTES
# GetServerInfo reports every count and size as an int64.
MAX_INT64 = (1 << 63) - 1
# Each stripe is a lock and a shard, each worker a token, allocated at start:
# a typo of a few zeros would take all memory (--workers 100000000 took
# 825 MiB and 8 s to start), and no machine runs that many handlers at once.
MAX_STRIPES = 4096
MAX_WORKERS = 4096


def _opt(help_text: str, default: Any, *, choices: Sequence[str] = ()) -> Any:
    return field(default=default, metadata={"help": help_text, "choices": tuple(choices)})


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: str = _opt(
        "address to listen on: HOST:PORT, [IPv6]:PORT, HOST (port 50051), unix:PATH or "
        "unix-abstract:NAME; port 0 picks a free one",
        "127.0.0.1:50051",
    )
    backend: str = _opt("storage backend", "memory", choices=sorted(BACKENDS))
    stripes: int = _opt("lock stripes of the memory backend", 64)
    redis_url: str = _opt(
        "Redis of the redis backend: redis://[USER:PASSWORD@]HOST:PORT[/DB], rediss:// for TLS; "
        "a standalone Redis or any node of a Redis Cluster (detected)",
        "redis://127.0.0.1:6379/0",
    )
    redis_key_prefix: str = _opt(
        "prefix of every key the redis backend writes (deployments sharing one Redis differ)",
        "cs:",
    )
    redis_timeout_seconds: float = _opt(
        "longest wait for Redis to connect or answer, below clients' call deadlines", 2.0
    )
    workers: int = _opt(
        "handlers running at once (calls still receiving their request wait apart)", 16
    )
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
    max_watchers: int = _opt(
        "Watch streams open at once, each with a thread of its own beside the workers; "
        "past it RESOURCE_EXHAUSTED",
        64,
    )
    watch_progress_seconds: float = _opt(
        "how often an idle Watch stream is sent a progress response", 5.0
    )
    watch_history_revisions: int = _opt(
        "revisions of history kept per namespace for watchers to resume from", 1000
    )
    watch_history_events: int = _opt(
        "events of history kept store-wide (memory backend; about 160 bytes each)", 262_144
    )
    watch_history_seconds: float = _opt(
        "how long the history of an emptied namespace is kept (redis backend; the memory "
        "backend keeps it until --watch-history-events needs the room)",
        3600.0,
    )
    share_min_bytes: int = _opt(
        "contents at least this long are held once however many sessions cache them "
        "(memory backend; 0: never)",
        2048,
    )
    watch_max_stream_seconds: float = _opt(
        "end a Watch stream (UNAVAILABLE: clients resume) once it is this old and has sent a "
        "change, so long-lived streams spread over restarted and added servers (0: never)",
        0.0,
    )
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
    log_level: str = _opt("logging level (any case)", "INFO", choices=LOG_LEVELS)
    log_format: str = _opt("log line format", "text", choices=LOG_FORMATS)
    access_log: bool = _opt(
        "log one line per call: method, code, duration, identity, bytes (on at DEBUG too)", False
    )
    tls_cert: str = _opt(
        "PEM certificate chain to serve TLS with (with --tls-key); re-read when it changes", ""
    )
    tls_key: str = _opt("PEM private key of --tls-cert; re-read when it changes", "")
    tls_client_ca: str = _opt(
        "PEM CA bundle: require client certificates signed by it (mTLS; needs --tls-cert)", ""
    )
    auth_tokens: str = _opt(
        "TOML file of identities (tokens or certificate subjects, roles, scopes); "
        "every call must then present one; re-read when it changes",
        "",
    )
    metrics_listen: str = _opt(
        "HOST:PORT to serve Prometheus metrics on, at /metrics (off when empty)", ""
    )
    tracing: bool = _opt(
        "trace calls with OpenTelemetry (the otel extra; exporter set by OTEL_* variables)", False
    )

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
            watch_history_revisions=self.watch_history_revisions,
            watch_history_events=self.watch_history_events,
            watch_history_seconds=self.watch_history_seconds,
            share_min_bytes=self.share_min_bytes,
        )

    def __post_init__(self) -> None:
        # Normalised here, so a config built in code reads the same as one from flags.
        object.__setattr__(self, "log_level", self.log_level.upper())
        try:
            object.__setattr__(self, "listen", listen.normalize(self.listen))
        except ValueError as error:
            raise ValueError(f"{setting_name('listen')}: {error}") from None
        for f in dataclasses.fields(self):
            _check(f, getattr(self, f.name))
        _check_redis(self)
        _check_tls(self)
        if self.watch_progress_seconds <= 0:
            raise ValueError(f"{setting_name('watch_progress_seconds')} must be more than 0")


_AT_LEAST_ONE = (
    "stripes", "workers", "max_concurrent_rpcs", "max_batch_items", "max_inflight_response_bytes",
    "max_watchers", "watch_history_revisions", "watch_history_events",
)  # fmt: skip
_AT_MOST: Mapping[str, tuple[int | float, str]] = {
    "max_content_bytes": (MAX_CONTENT_BYTES, "gRPC's largest message less 1 MiB of headroom"),
    "stripes": (MAX_STRIPES, "more only costs memory"),
    "workers": (MAX_WORKERS, "more only costs memory"),
    "max_watchers": (MAX_WORKERS, "each is a thread"),
}


def _check(f: dataclasses.Field[Any], value: Any) -> None:
    """Bounds and choices of one field; ValueError naming the flag and the variable."""
    name = setting_name(f.name)
    if f.metadata["choices"] and value not in f.metadata["choices"]:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(f.metadata['choices'])}")
    if not isinstance(value, int | float):
        return
    least = 1 if f.name in _AT_LEAST_ONE else 0
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {_show(f, value)}")
    # By the field, not the value: an int given for a duration is still a duration.
    default_most = (MAX_SECONDS, "") if f.name.endswith("_seconds") else (MAX_INT64, "")
    most, why = _AT_MOST.get(f.name, default_most)
    if value > most:
        because = f" ({why})" if why else ""
        raise ValueError(f"{name} must be at most {_show(f, most)}{because}, got {_show(f, value)}")


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _check_redis(config: ServerConfig) -> None:
    if not config.redis_url.startswith(_REDIS_SCHEMES):
        raise ValueError(
            f"{setting_name('redis_url')}: {config.redis_url!r} must start with "
            + ", ".join(_REDIS_SCHEMES)
        )
    # A brace would make Redis read the prefix as a key's hash tag.
    if "{" in config.redis_key_prefix or "}" in config.redis_key_prefix:
        raise ValueError(f"{setting_name('redis_key_prefix')}: must not contain {{ or }}")
    if config.redis_timeout_seconds <= 0:
        raise ValueError(f"{setting_name('redis_timeout_seconds')} must be more than 0")


def _check_tls(config: ServerConfig) -> None:
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ValueError(
            f"{setting_name('tls_cert')} and {setting_name('tls_key')} go together: give both"
        )
    if config.tls_client_ca and not config.tls_cert:
        raise ValueError(
            f"{setting_name('tls_client_ca')} needs TLS: give {setting_name('tls_cert')} too"
        )


def _show(f: dataclasses.Field[Any], value: int | float) -> str:
    """A value as the user may write it back: 16 MiB, 1h, 42."""
    if f.name.endswith("_seconds"):
        return format_duration(value)
    if f.name.endswith("_bytes") and value > 0:
        return format_size(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def setting_name(name: str) -> str:
    """How a user sets a field: ``--max-batch-items / CONTEXTSTORE_MAX_BATCH_ITEMS``."""
    return f"--{name.replace('_', '-')} / {ENV_PREFIX}{name.upper()}"


def _converter(f: dataclasses.Field[Any]) -> Any:
    if f.name.endswith("_bytes"):
        return parse_size
    if f.name.endswith("_seconds"):
        return parse_duration
    if f.name == "listen":
        return _listen
    if f.name == "log_level":
        return str.upper  # choices are upper case; any case is accepted
    if f.name == "log_format":
        return str.lower
    return {"int": int, "float": float, "str": str, "bool": _boolean}[str(f.type)]


def _boolean(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(_TRUE + _FALSE[:-1])}")


def _listen(text: str) -> str:
    try:
        return listen.normalize(text)
    except ValueError as error:  # argparse shows an ArgumentTypeError's own message
        raise argparse.ArgumentTypeError(str(error)) from None


def _metavar(f: dataclasses.Field[Any]) -> str | None:
    if f.metadata["choices"]:
        return None  # argparse lists them: {DEBUG,INFO,...}
    if f.name == "listen":
        return "ADDRESS"
    if f.name == "redis_url":
        return "URL"
    if f.name == "redis_key_prefix":
        return "PREFIX"
    if f.name.startswith(("tls_", "auth_")):
        return "FILE"
    if f.name == "metrics_listen":
        return "HOST:PORT"
    if f.name.endswith("_bytes"):
        return "SIZE"
    if f.name.endswith("_seconds"):
        return "DURATION"
    return "N"


def _default_text(f: dataclasses.Field[Any]) -> str:
    if isinstance(f.default, bool):
        return "off" if not f.default else "on"
    if f.default == "":
        return "none"
    if f.default == 0:
        return "0"
    if isinstance(f.default, int | float):
        return _show(f, f.default)
    return str(f.default)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per field; defaults stay unset so the environment can fill them."""
    for f in dataclasses.fields(ServerConfig):
        env = ENV_PREFIX + f.name.upper()
        # A switch: --access-log alone turns it on; --access-log=off says so explicitly.
        switch: dict[str, Any] = {"nargs": "?", "const": True} if str(f.type) == "bool" else {}
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=_converter(f),
            choices=f.metadata["choices"] or None,
            metavar=_metavar(f) if not switch else "on|off",
            default=None,
            help=f"{f.metadata['help']} [env {env}; default {_default_text(f)}]",
            **switch,
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


DESCRIPTION = """\
Serve the contextstore gRPC service, with health checking and reflection,
until SIGTERM or SIGINT, then let in-flight calls finish for --grace-seconds.

Every option is also an environment variable, named in its help; a flag wins
over the variable, which wins over the default."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description and epilog as laid out; option help wrapped, never inside "16 MiB"."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        glued = _NUMBER_AND_UNIT.sub("\\1\xa0\\2", text)  # wrapping breaks at ASCII spaces only
        return [line.replace("\xa0", " ") for line in super()._split_lines(glued, width)]


_NUMBER_AND_UNIT = re.compile(r"(\d) ([KMG]i?B|B)\b")


def build_parser() -> argparse.ArgumentParser:
    epilog = "\n".join(textwrap.fill(text, 79) for text in (SIZE_HELP, DURATION_HELP))
    parser = argparse.ArgumentParser(
        prog="contextstore serve",
        # Not the generated synopsis of every flag: a usage error stays two lines.
        usage="%(prog)s [OPTION]...",
        description=DESCRIPTION,
        epilog=epilog,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"contextstore serve {__version__}",
        help="print the server's version and exit",
    )
    add_arguments(parser)
    return parser


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> ServerConfig:
    return from_arguments(build_parser().parse_args(argv), environ)
