"""The suite's report: a table on the terminal and BENCHMARKS.md on disk.

BENCHMARKS.md records what a reader needs to trust or repeat the figures: the
machine, the versions of everything measured, the command, and each figure's
two sides with its ratio and target.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks import procs
from benchmarks.figures import Figure, Measure


def table(figures: Sequence[Figure]) -> Table:
    """One row per figure: its ratio against its target, and the two sides measured."""
    out = Table(title="contextstore benchmark suite", show_lines=True)
    out.add_column("#")
    out.add_column("figure: numerator ÷ denominator")
    out.add_column("ratio", justify="right")
    out.add_column("target", justify="right")
    out.add_column("")
    for f in figures:
        sides = f"[bold]{f.title}[/]\n{_side(f.numerator)}\n÷ {_side(f.denominator)}"
        verdict = "[green]met[/]" if f.met else "[red]MISSED[/]"
        verdict += "" if f.invalid is None else "\n[red](invalid)[/]"
        out.add_row(f.key, sides, f"{f.ratio:.3g}", str(f.target), verdict)
    return out


def print_table(figures: Sequence[Figure], console: Console) -> None:
    console.print(table(figures))


def _side(m: Measure) -> str:
    return f"{m.value:,.1f} {m.unit} ({m.what})"


def markdown(figures: Sequence[Figure], *, command: str) -> str:
    lines = ["# Benchmarks", "", _preamble(command), "", "## Figures", ""]
    lines += ["| # | figure | numerator | denominator | ratio | target | |", "|---" * 7 + "|"]
    for f in figures:
        cells = [f.key, f.title, _side(f.numerator), _side(f.denominator)]
        verdict = "met" if f.met else "**missed**" if f.invalid is None else "**missed** (invalid)"
        cells += [f"{f.ratio:.3g}", f"`{f.target}`", verdict]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    notes = [(f.key, n) for f in figures for n in _notes(f)]
    if notes:
        lines += ["", "## Notes", ""] + [f"- **{key}.** {note}" for key, note in notes]
    return "\n".join(lines) + "\n"


def _notes(f: Figure) -> tuple[str, ...]:
    return f.notes if f.invalid is None else (f"Invalid: {f.invalid}.", *f.notes)


def _preamble(command: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        f"Written by `{command}` on {when}. Every figure is a ratio of two rates measured",
        "side by side in this one run; absolute rates move with the machine, ratios much less.",
        "",
        "## Machine and versions",
        "",
        *(f"- {k}: {v}" for k, v in _environment().items()),
    ])  # fmt: skip


def _environment() -> dict[str, str]:
    return {
        "CPU": f"{_cpu_model()}, {os.cpu_count()} CPUs (servers pinned to CPU "
        f"{procs.SERVER_CPU}, load generators to CPU {procs.LOAD_CPU})",
        "memory": f"{_mem_total_gib():.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "packages": ", ".join(
            f"{p} {metadata.version(p)}"
            for p in ("contextstore-grpc", "grpcio", "protobuf", "hdrhistogram", "redis", "hiredis")
        ),
        "ghz": _module_version(procs.tool("ghz"), "github.com/bojand/ghz"),
        "redis": (_output([procs.tool("redis-server"), "--version"]).splitlines() or ["?"])[0],
    }


def _cpu_model() -> str:
    text = Path("/proc/cpuinfo").read_text()
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return found.group(1) if found else platform.processor() or "unknown"


def _mem_total_gib() -> float:
    text = Path("/proc/meminfo").read_text()
    found = re.search(r"^MemTotal:\s+(\d+) kB", text, re.M)
    return int(found.group(1)) / (1 << 20) if found else 0.0


def _module_version(binary: str, module: str) -> str:
    """The version ``go install`` built a binary at (``--version`` says only "dev")."""
    out = _output(["go", "version", "-m", binary])
    found = re.search(rf"mod\s+{re.escape(module)}\s+(\S+)", out)
    return found.group(1) if found else "unknown"


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return "unknown"
