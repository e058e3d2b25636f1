"""``lossbench report PATH [PATH ...]``: rebuild the report of finished sweeps or runs.

With one PATH the files are written into it (the same files the callback wrote);
with several, the sweeps are merged into one table written into ``--out``. Options
not given on the command line come from the sweep's saved config (the ``report``
block of ``multirun.yaml``, e.g. a preset's baseline), else the defaults.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import yaml

from lossbench.report.summary import Options

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lossbench report",
        description="Aggregate finished runs over seeds and compare them with the baseline.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="sweep, run or job directories")
    p.add_argument("--metric", help="headline metric (default: the sweep's, else by task)")
    p.add_argument(
        "--baseline", help="a loss name or KEY=VALUE (default: the sweep's, else ce / mse)"
    )
    p.add_argument("--alpha", help="significance level in (0, 1) (default 0.05)")
    p.add_argument("--test", help="paired test: t (default) or wilcoxon (signed-rank)")
    p.add_argument(
        "--correction",
        help="multiple comparisons: holm (default; per dataset and metric) or none",
    )
    p.add_argument(
        "--format",
        choices=("table", "csv", "md"),
        default="table",
        help="what to print: a rich table, summary.csv or summary.md",
    )
    p.add_argument("--out", type=Path, help="where to write the files (default: PATH, or ./report)")
    p.add_argument("--no-plots", action="store_true", help="skip plots/*.png")
    return p


def saved_options(paths: list[str]) -> dict[str, Any]:
    """The ``report`` block of the first sweep's ``multirun.yaml`` (empty if none)."""
    for p in map(Path, paths):
        saved = p / "multirun.yaml"
        if saved.is_file():
            try:
                loaded = yaml.safe_load(saved.read_text())
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                log.warning(f"report: skipped {saved}: unreadable ({exc.__class__.__name__})")
                return {}
            block = loaded.get("report") if isinstance(loaded, dict) else None
            return block if isinstance(block, dict) else {}
    return {}


def _number(value: object) -> object:
    """``--alpha 0.01`` arrives as text; anything that is not a number is left for
    :meth:`Options.validate` to reject with the key's name."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from lossbench.report import make_report
    from lossbench.report.tables import markdown, print_console

    out = args.out or (Path(args.paths[0]) if len(args.paths) == 1 else Path("report"))
    if out.is_file():
        out = out.parent
    saved = saved_options(args.paths)
    given = {
        "metric": args.metric,
        "baseline": args.baseline,
        "alpha": args.alpha,
        "test": args.test,
        "correction": args.correction,
    }
    options = Options(
        **{k: v if v is not None else saved.get(k, getattr(Options, k)) for k, v in given.items()},
        plots=not args.no_plots,
    )
    try:
        options.alpha = _number(options.alpha)
        options.validate()
        report = make_report(args.paths, out, options)
    except (OSError, ValueError) as exc:
        log.error(f"error: {exc}")
        return 2
    if args.format == "csv":
        sys.stdout.write((out / "summary.csv").read_text())
    elif args.format == "md":
        sys.stdout.write(markdown(report.summary, options))
    else:
        print_console(report.summary, options)
        log.info(f"report written to {out}")
    return 0
