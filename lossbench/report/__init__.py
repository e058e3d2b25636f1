"""Comparison reports: did the loss help? Read sweeps from disk, aggregate over seeds,
test against the baseline, write CSV, Markdown, plots and one HTML page.

``make_report`` is used by the Hydra callback after every multirun and by
``lossbench report``; both write the same files. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lossbench.report.collect import Results, load
from lossbench.report.summary import Options, Summary, summarize


@dataclass
class Report:
    results: Results
    summary: Summary
    plots: list[Path]


def make_report(paths: Sequence[str | Path], out_dir: str | Path, options: Options) -> Report:
    """Write ``results.csv``, ``summary.csv``, ``summary.md``, ``plots/`` and the
    self-contained ``report.html`` into ``out_dir``; with two or more datasets also
    ``leaderboard.csv``/``.md`` and the CD diagram."""
    from lossbench.report import leaderboard, tables

    out_dir = Path(out_dir)
    results = load(paths, relative_to=out_dir)
    summary = summarize(results, options)
    summary.leaderboard = leaderboard.build(summary.df, options.alpha)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables.write_csvs(results, summary, out_dir)
    tables.write_markdown(summary, options, out_dir)
    if summary.leaderboard is not None:
        leaderboard.write(summary.leaderboard, out_dir)
    plots: list[Path] = []
    if options.plots:
        from lossbench.report.plots import draw_all

        plots = draw_all(results, summary, out_dir)
        if summary.leaderboard is not None:
            from lossbench.report.cd_plot import draw

            cd = draw(summary.leaderboard, out_dir / "plots" / "critical_difference.png")
            plots += [cd] if cd is not None else []
    # Last: the page embeds every file written above (and leaderboard.csv, if any).
    from lossbench.report.html import write_html

    write_html(results, summary, options, plots, out_dir, paths)
    return Report(results, summary, plots)


__all__ = ["Options", "Report", "make_report"]
