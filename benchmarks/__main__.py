"""``python -m benchmarks``: measure every figure, print, report.

``make bench`` runs it in full (a few minutes) and writes BENCHMARKS.md;
``--quick`` runs every figure at a small scale in well under a minute, to see
that the suite works, not to read the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from benchmarks import procs, report
from benchmarks.figures import Figure
from benchmarks.plan import Plan, plan


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--report", type=Path, help="write the report (markdown) to this file")
    parser.add_argument("--quick", action="store_true", help="small scale: check, don't measure")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="KEY",
        help="run only these figures (F1 .. F4, 2 .. 7, R2 .. R4, S1, W4; 4 runs 4a and 4b)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp:
        protoset = procs.protoset(Path(tmp) / "cs.protoset")
        chosen = Plan(quick=args.quick, protoset=protoset, only=args.only)
        figures = _run(chosen, console)
    report.print_table(figures, Console())
    if args.report:
        command = "make bench" if not args.quick else "python -m benchmarks --quick"
        args.report.write_text(report.markdown(figures, command=command))
        console.print(f"wrote {args.report}")
    return 0 if all(f.met for f in figures) else 1


def _run(chosen: Plan, console: Console) -> list[Figure]:
    figures: list[Figure] = []
    for key, step in plan(chosen):
        if not chosen.runs(key):
            continue
        with console.status(f"measuring figure {key}"):
            figures.append(step(figures))
        f = figures[-1]
        console.print(f"figure {f.key}: {f.ratio:.3g} (target {f.target}) {f.title}")
    return figures


if __name__ == "__main__":
    sys.exit(main())
