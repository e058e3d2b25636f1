"""``lossbench report PATH [PATH ...]``: rebuild the report of finished sweeps or runs.

With one PATH the files are written into it (the same files the callback wrote);
with several, the sweeps are merged into one table written into ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lossbench.report.summary import Options


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lossbench report",
        description="Aggregate finished runs over seeds and compare them with the baseline.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="sweep, run or job directories")
    p.add_argument("--metric", default="auto", help="headline metric (default: by task)")
    p.add_argument(
        "--baseline", default="auto", help="a loss name or KEY=VALUE (default: ce / mse by task)"
    )
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    p.add_argument(
        "--format",
        choices=("table", "csv", "md"),
        default="table",
        help="what to print: a rich table, summary.csv or summary.md",
    )
    p.add_argument("--out", type=Path, help="where to write the files (default: PATH, or ./report)")
    p.add_argument("--no-plots", action="store_true", help="skip plots/*.png")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from lossbench.report import make_report
    from lossbench.report.tables import markdown, print_console

    out = args.out or (Path(args.paths[0]) if len(args.paths) == 1 else Path("report"))
    if out.is_file():
        out = out.parent
    options = Options(
        metric=args.metric, baseline=args.baseline, alpha=args.alpha, plots=not args.no_plots
    )
    try:
        report = make_report(args.paths, out, options)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "csv":
        sys.stdout.write((out / "summary.csv").read_text())
    elif args.format == "md":
        sys.stdout.write(markdown(report.summary, options))
    else:
        print_console(report.summary, options)
        print(f"report written to {out}")
    return 0
