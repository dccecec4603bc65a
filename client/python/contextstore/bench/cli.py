"""``contextstore bench``: load a contextstore server and report rate, errors and latency.

Closed loop by default (--concurrency calls in flight in total); open loop with
--rate or --schedule, latency then measured from each call's *intended* send
time, so a server stall shows in every call it delayed (no coordinated
omission). Without --target, a local ``contextstore serve`` is started for the
run and stopped after it.

Schedules (open loop, rates in calls/s over --duration):
  const:R               R calls/s (what --rate R means)
  ramp:FROM:TO          linear from FROM to TO
  step:R1,R2,...,Rk     k equal steps

--sweep runs closed-loop steps at concurrency 1, 2, 4, ... --concurrency, each
for --duration, and reports the knee: the smallest concurrency whose throughput
reaches at least 90% of the sweep's peak throughput.

Mix operations: get, metadata, cache, analysis_get, analysis_put (``analysis``
is half of each), invalidate, invalidate_analysis, clear, batch_get,
batch_cache. NOT_FOUND on a read is a miss, not an error; every other non-OK
status is an error, counted by its code name.

TLS and tokens: --tls-ca/--tls-cert/--tls-key (or --tls) and --token-file or
--token, read as the client commands read them (env CONTEXTSTORE_TLS_CA,
CONTEXTSTORE_TLS_CERT, CONTEXTSTORE_TLS_KEY, CONTEXTSTORE_TOKEN); every worker
process's channels use them. The report says whether a token was sent, never it.

A scenario file (--scenario FILE.toml) holds the same settings as top-level keys
(``procs = 2``, ``mix = "get=90,cache=10"`` or a [mix] table, ``payload_bytes =
"1KiB"``, ``preload = false``...); flags given on the command line override it.

Exit status: 0, or 1 when any call failed (unless --allow-errors), 2 when the
run could not be made (bad settings, payloads over the server's advertised
max_content_bytes or max_message_bytes, server unreachable, preload refused).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console

from contextstore.bench.localserver import ServerStartError
from contextstore.bench.plot import PlotUnavailable
from contextstore.bench.pool import BenchError
from contextstore.bench.report import BenchReport
from contextstore.bench.runner import BenchConfig, OverLimit, run
from contextstore.bench.workload import Workload, check_mix, parse_mix
from contextstore.client import ContextStoreError, flags
from contextstore.units import parse_duration, parse_size_range

# Settings a scenario file or a flag may give, with their defaults.
DEFAULTS: Mapping[str, Any] = {
    "target": None, "procs": 1, "connections": None, "concurrency": 16, "rate": None,
    "schedule": None, "sweep": False, "duration": 10.0, "warmup": 1.0, "interval": 1.0,
    "mix": "get=100", "sessions": 1, "global_namespace": False, "keys": 1000,
    "distribution": "uniform", "zipf_s": 1.1, "payload_bytes": "1KiB", "batch_size": 10,
    "preload": True, "timeout": 10.0, "seed": 1, "server_arg": [],
    "json": None, "plot": None, "quiet": False, "allow_errors": False,
    "tls": False, "tls_ca": None, "tls_cert": None, "tls_key": None, "token": None,
    "token_file": None,
}  # fmt: skip
_WORKLOAD = ("sessions", "global_namespace", "keys", "distribution", "zipf_s", "batch_size", "seed")
_RUN = ("target", "procs", "concurrency", "rate", "schedule", "sweep", "duration", "warmup",
        "interval", "preload", "timeout")  # fmt: skip
_CREDENTIALS = ("tls", "tls_ca", "tls_cert", "tls_key", "token", "token_file")


def _d(name: str) -> str:
    return f" [default: {DEFAULTS[name]}]"


def _load_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--target",
        metavar="TARGET",
        help="server to load, host[:port]; several, taken in "
        "turns: IP[:port],IP[:port],... or dns:///NAME:PORT [default: start a local one]",
    )
    add("--procs", type=int, help="client processes" + _d("procs"))
    add("--connections", type=int, help="gRPC connections in total [default: one per process]")
    add("--concurrency", type=int, help="closed loop: calls in flight in total" + _d("concurrency"))
    add("--rate", type=float, help="open loop: calls/s in total")
    add("--schedule", metavar="SPEC", help="open loop: const:R, ramp:FROM:TO or step:R1,R2,...")
    add("--sweep", action="store_true", help="closed-loop sweep 1, 2, 4 ... --concurrency")
    seconds = parse_duration  # 30, 1.5s, 250ms, 5m
    add("--duration", type=seconds, help="measured seconds (per sweep step)" + _d("duration"))
    add("--warmup", type=seconds, help="unmeasured seconds of the same load first" + _d("warmup"))
    add("--interval", type=seconds, help="timeline resolution, seconds" + _d("interval"))
    add("--timeout", type=seconds, help="deadline of each call, seconds" + _d("timeout"))


def _workload_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--mix", metavar="OP=W,...", help="weighted operations" + _d("mix"))
    add("--sessions", type=int, help="named sessions (0: none)" + _d("sessions"))
    add("--global-namespace", action="store_true", help="also use the global namespace")
    add("--keys", type=int, help="paths per namespace" + _d("keys"))
    add("--distribution", choices=("uniform", "zipf"), help="key popularity" + _d("distribution"))
    add("--zipf-s", type=float, help="zipf exponent: weight of rank k is 1/k^s" + _d("zipf_s"))
    add("--payload-bytes", metavar="SIZE|LOW-HIGH", help="content size, e.g. 4KiB or 512-64KiB"
        + _d("payload_bytes"))  # fmt: skip
    add("--batch-size", type=int, help="paths per batch call" + _d("batch_size"))
    add("--no-preload", dest="preload", action="store_false", help="do not cache every key first")
    add("--seed", type=int, help="random seed of the workload" + _d("seed"))


def _output_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--scenario", metavar="FILE.toml", help="settings file; flags override it")
    add("--json", metavar="FILE", help="write the full report as JSON")
    add("--plot", metavar="FILE.png", help="write charts (needs contextstore-grpc[plot])")
    add("--quiet", action="store_true", help="no live progress")
    add("--allow-errors", action="store_true", help="exit 0 even when calls failed")
    add("--server-arg", action="append", metavar="ARG", help="flag for the local server "
        "(repeatable, e.g. --server-arg=--workers=32)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    # SUPPRESS: only flags actually given appear, so they can override the scenario file.
    parser = argparse.ArgumentParser(
        prog="contextstore bench", description=__doc__, argument_default=argparse.SUPPRESS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _load_flags(parser)
    _workload_flags(parser)
    _output_flags(parser)
    flags.add_flags(parser, lambda _: argparse.SUPPRESS)
    return parser


def load_scenario(path: str) -> dict[str, Any]:
    """A scenario file's settings, keys normalized to underscores; unknown keys refused."""
    with open(path, "rb") as f:
        try:
            loaded = tomllib.load(f)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: {error}") from None
    data = {key.replace("-", "_"): value for key, value in loaded.items()}
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {unknown}")
    return data


def settings(argv: Sequence[str]) -> dict[str, Any]:
    """Defaults, then the scenario file, then the flags given."""
    given = vars(build_parser().parse_args(argv))
    scenario = given.pop("scenario", None)
    from_file = load_scenario(scenario) if scenario else {}
    return {**DEFAULTS, **flags.env_defaults(), **from_file, **given}


def _mix(value: Any) -> dict[str, float]:
    if isinstance(value, Mapping):
        return check_mix({str(k): float(v) for k, v in value.items()})
    return parse_mix(str(value))


_SECONDS = ("duration", "warmup", "interval", "timeout")


def _seconds(value: Any) -> float:
    """A duration from a flag (already parsed) or a scenario file (a number or ``"30s"``)."""
    return float(value) if isinstance(value, int | float) else parse_duration(str(value))


def to_config(s: Mapping[str, Any]) -> BenchConfig:
    s = {**s, **{name: _seconds(s[name]) for name in _SECONDS}}
    workload = Workload(
        mix=_mix(s["mix"]), payload_bytes=parse_size_range(str(s["payload_bytes"])),
        **{name: s[name] for name in _WORKLOAD},
    )  # fmt: skip
    connections = s["connections"] or s["procs"]
    credentials = argparse.Namespace(**{name: s[name] for name in _CREDENTIALS})
    return BenchConfig(
        workload=workload, connections=connections,
        server_args=tuple(s["server_arg"] or ()), **{name: s[name] for name in _RUN},
        tls=flags.tls(credentials), token=flags.token(credentials),
    )  # fmt: skip


def _write_outputs(report: BenchReport, s: Mapping[str, Any]) -> None:
    if s["json"]:
        with open(s["json"], "w") as f:
            json.dump(report.to_dict(), f, indent=2)
    if s["plot"]:
        from contextstore.bench.plot import write_plot

        write_plot(report, s["plot"])


def main(argv: Sequence[str]) -> int:
    """Run ``contextstore bench ARGV``; returns the exit status."""
    try:
        s = settings(argv)
        config = to_config(s)
    except (ValueError, TypeError, OSError) as error:
        print(f"contextstore bench: {error}", file=sys.stderr)
        return 2
    return _run(config, s)


def _run(config: BenchConfig, s: Mapping[str, Any]) -> int:
    from contextstore.bench.render import live_progress, print_report

    try:
        with live_progress(enabled=not s["quiet"]) as progress:
            report = run(config, on_progress=progress)
        _write_outputs(report, s)
    except OverLimit as error:  # a usage error, found once the server's limits are known
        print(f"contextstore bench: {error}", file=sys.stderr)
        return 2
    except (BenchError, ServerStartError, PlotUnavailable, ContextStoreError, OSError) as error:
        print(f"contextstore bench: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a pipe or a file: room for every column
    print_report(report, console)
    if report.failed and not s["allow_errors"]:
        print(f"contextstore bench: {report.failed} calls failed: {dict(report.errors)}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0
