"""The report as text: ``results.csv``, ``summary.csv``, ``summary.md`` and a rich table."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from rich.table import Table
from rich.text import Text

from lossbench.io import atomic_write_text
from lossbench.log import show
from lossbench.report.collect import Results
from lossbench.report.summary import Options, Summary, describe_method, direction

log = logging.getLogger(__name__)

MARK = {"win": "▲ win", "loss": "▼ loss"}


def write_csvs(results: Results, summary: Summary, out_dir: Path) -> None:
    """``results.csv`` (one row per job) and ``summary.csv`` (one row per configuration)."""
    atomic_write_text(out_dir / "results.csv", results.df.to_csv(index=False))
    atomic_write_text(out_dir / "summary.csv", summary.df.to_csv(index=False))


def _num(x: float, digits: int = 4) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _signed(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.4f}"


def _p(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def headline_rows(summary: Summary) -> list[tuple[str, list[list[str]]]]:
    """Per dataset: a title and rows of (config, n, mean ± std, CI, Δ, p, verdict)."""
    out = []
    for dataset, part in summary.df.groupby("dataset", sort=False):
        metric = part["metric"].iloc[0]
        base = next((b for b in part["baseline"] if b), "")
        title = (
            f"dataset={dataset} ({part['task'].iloc[0] or '?'}) · metric {metric} "
            f"({direction(metric)}) · baseline {base or 'none'}"
        )
        rows = []
        for _, r in part.iterrows():
            m, nan = r["metric"], math.nan
            mean_std = f"{_num(r.get(f'{m}_mean', nan))} ± {_num(r.get(f'{m}_std', nan))}"
            mean_std = mean_std.strip(" ±")
            ci = _num(r.get(f"{m}_ci95", nan))
            ci = f"±{ci}" if ci else ""
            verdict = MARK.get(r["verdict"], r["verdict"])
            n = f"{r['n']}" + (f" (+{r['excluded']} excluded)" if r["excluded"] else "")
            rows.append(
                [r["config"], n, mean_std, ci, _signed(r["delta"]), _p(r["p_value"]), verdict]
            )
        out.append((title, rows))
    return out


HEADER = ["config", "n", "mean ± std", "95% CI", "Δ vs baseline", "p", "verdict"]


def markdown(summary: Summary, options: Options) -> str:
    """``summary.md``: per dataset the headline table, then every metric, then the notes."""
    lines = ["# lossbench report", "", describe_method(options), ""]
    for (title, rows), (_, part) in zip(
        headline_rows(summary), summary.df.groupby("dataset", sort=False), strict=True
    ):
        lines += [f"## {title}", "", _md_table(HEADER, rows), ""]
        metrics = [m for m in summary.metrics if part[f"{m}_n"].sum() > 0]
        shown = [m for m in metrics if not m.startswith("recall_class_")]
        lines += ["All metrics, mean ± std over completed seeds:", ""]
        body = [
            [r["config"]] + [f"{_num(r[f'{m}_mean'])} ± {_num(r[f'{m}_std'])}" for m in shown]
            for _, r in part.iterrows()
        ]
        lines += [_md_table(["config", *shown], body), ""]
        if len(shown) < len(metrics):
            lines += ["Per-class recall: `summary.csv` and `plots/`.", ""]
    if summary.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in summary.notes] + [""]
    return "\n".join(lines)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)])


def write_markdown(summary: Summary, options: Options, out_dir: Path) -> None:
    atomic_write_text(out_dir / "summary.md", markdown(summary, options))


def print_console(summary: Summary, options: Options) -> None:
    """The headline tables and notes: rich tables on the terminal, text in the job log."""
    for title, rows in headline_rows(summary):
        table = Table(title=title, title_justify="left")
        for name in HEADER:
            if name == "config":
                table.add_column(name, overflow="fold")
            else:
                table.add_column(name, justify="right", no_wrap=True)
        for row in rows:
            style = {"▲ win": "green", "▼ loss": "red"}.get(row[-1])
            table.add_row(*row, style=style)
        show(log, table)
    show(log, Text(describe_method(options), style="dim"))
    for note in summary.notes:
        show(log, Text(f"note: {note}", style="yellow"))
