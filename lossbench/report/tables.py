"""The report as text: ``results.csv``, ``summary.csv``, ``summary.md`` and a rich table."""

from __future__ import annotations

import math
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lossbench.io import atomic_write_text
from lossbench.report.collect import Results
from lossbench.report.summary import Options, Summary, describe_method, direction

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


def short_labels(part) -> list[str]:
    """Row names inside one table: the loss and only the keys that vary *in this table*
    (``focal loss.gamma=2``), so a multi-dataset sweep does not repeat ``dataset=...``
    in every row. The key columns are those before ``config`` in the summary."""
    keys = [k for k in part.columns[: list(part.columns).index("config")] if k != "problem"]
    varying = [k for k in keys if part[k].nunique() > 1]
    labels = []
    for _, r in part.iterrows():
        parts = [r["loss"]] if "loss" in varying or not varying else []
        parts += [f"{k}={r[k]}" for k in varying if k != "loss" and r[k] != ""]
        labels.append(" ".join(parts) or str(r["loss"]))
    return labels


def headline_rows(summary: Summary) -> list[tuple[str, list[list[str]]]]:
    """Per dataset: a title and rows of (config, n, mean ± std, CI, Δ, p, verdict)."""
    out = []
    for dataset, part in summary.df.groupby("dataset", sort=False):
        metric = part["metric"].iloc[0]
        labels = dict(zip(part.index, short_labels(part), strict=True))
        is_base = part["verdict"] == "baseline"
        base = labels[part.index[is_base][0]] if is_base.sum() == 1 else ""
        if is_base.sum() > 1:  # e.g. one baseline per imbalance ratio
            base = f"{part.loc[is_base, 'loss'].iloc[0]} (the matching one per row)"
        title = (
            f"dataset={dataset} ({part['task'].iloc[0] or '?'}) · metric {metric} "
            f"({direction(metric)}) · baseline {base or 'none'}"
        )
        rows = []
        for i, r in part.iterrows():
            m, nan = r["metric"], math.nan
            mean_std = f"{_num(r.get(f'{m}_mean', nan))} ± {_num(r.get(f'{m}_std', nan))}"
            mean_std = mean_std.strip(" ±")
            ci = _num(r.get(f"{m}_ci95", nan))
            ci = f"±{ci}" if ci else ""
            verdict = MARK.get(r["verdict"], r["verdict"])
            n = f"{r['n']}" + (f" (+{r['excluded']} excluded)" if r["excluded"] else "")
            rows.append(
                [labels[i], n, mean_std, ci, _signed(r["delta"]), _p(r["p_value"]), verdict]
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
            [label] + [f"{_num(r[f'{m}_mean'])} ± {_num(r[f'{m}_std'])}" for m in shown]
            for label, (_, r) in zip(short_labels(part), part.iterrows(), strict=True)
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


def _console() -> Console:
    """The terminal's width; 160 columns for a file or pipe (rich's default there is 80,
    which folds configuration names), unless ``COLUMNS`` says otherwise."""
    console = Console()
    if console.is_terminal or "COLUMNS" in os.environ:
        return console
    return Console(width=160)


def print_console(summary: Summary, options: Options, console: Console | None = None) -> None:
    """The headline tables and notes, as rich tables on the terminal."""
    console = console or _console()
    for title, rows in headline_rows(summary):
        # The title on its own line: as a rich table title it would wrap at the table's width.
        console.print(title, style="bold", overflow="fold")
        table = Table()
        for name in HEADER:
            if name == "config":
                table.add_column(name, overflow="fold")
            else:
                table.add_column(name, justify="right", no_wrap=True)
        for row in rows:
            style = {"▲ win": "green", "▼ loss": "red"}.get(row[-1])
            table.add_row(*row, style=style)
        console.print(table)
    console.print(describe_method(options), style="dim")
    for note in summary.notes:
        console.print(f"note: {note}", style="yellow")
