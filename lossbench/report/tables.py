"""The report as text: ``results.csv``, ``summary.csv``, ``summary.md`` and rich tables.

``summary.csv`` is long: one row per configuration x metric (mean, std, ci95, n, and
against the baseline Δ, p, p_holm, d_z, MDE, verdict); the headline rows have
``headline=True``. The tables show the headline metric per problem (dataset), the
reading under it, then every metric's mean ± std with ▲/▼ where it differs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lossbench.io import atomic_write_text
from lossbench.log import show
from lossbench.report.collect import Results
from lossbench.report.reading import reading
from lossbench.report.summary import (
    LONG_STATS,
    Options,
    Summary,
    config_label,
    describe_method,
    direction,
)

log = logging.getLogger(__name__)

MARK = {"win": "▲ win", "loss": "▼ loss"}
SHORT_MARK = {"win": " ▲", "loss": " ▼"}


def write_csvs(results: Results, summary: Summary, out_dir: Path) -> None:
    """``results.csv`` (one row per job) and ``summary.csv`` (configuration x metric)."""
    atomic_write_text(out_dir / "results.csv", results.df.to_csv(index=False))
    long = summary.long
    if long.empty:
        long = pd.DataFrame(columns=["problem", *results.group_keys, "config", "task", *LONG_STATS])
    atomic_write_text(out_dir / "summary.csv", long.to_csv(index=False))


def _nan(x: object) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _num(x: float, digits: int = 4) -> str:
    return "" if _nan(x) else f"{x:.{digits}f}"


def _signed(x: float) -> str:
    return "" if _nan(x) else f"{x:+.4f}"


def _p(x: float) -> str:
    return "" if _nan(x) else f"{x:.3g}"


def _header(options: Options) -> list[str]:
    p = ["p", "p_holm"] if options.correction == "holm" else ["p"]
    return ["config", "n", "mean ± std", "95% CI", "Δ vs baseline", *p, "d_z", "MDE", "verdict"]


def _problems(summary: Summary) -> list[tuple[str, pd.DataFrame]]:
    return list(summary.df.groupby("problem", sort=False))


def short_labels(part) -> list[str]:
    """Row names inside one table: the loss and only the keys that vary *in this table*
    (``focal loss.gamma=2``), so a multi-dataset sweep does not repeat ``dataset=...``
    in every row. The key columns are those before ``config`` in the summary."""
    keys = [k for k in part.columns[: list(part.columns).index("config")] if k != "problem"]
    varying = [k for k in keys if part[k].nunique() > 1]
    # methods applied around a loss read as such (``ce + cRT (100 ep)``), as in the notes
    return [config_label(r, varying) for _, r in part.iterrows()]


def headline_rows(summary: Summary) -> list[tuple[str, list[list[str]]]]:
    """Per problem: a title and rows of (config, n, mean ± std, CI, Δ, p, [p_holm], d_z,
    MDE, verdict)."""
    holm = summary.options.correction == "holm"
    out = []
    for problem, part in _problems(summary):
        metric = part["metric"].iloc[0]
        labels = dict(zip(part.index, short_labels(part), strict=True))
        is_base = part["verdict"] == "baseline"
        base = labels[part.index[is_base][0]] if is_base.sum() == 1 else ""
        if is_base.sum() > 1:  # e.g. one baseline per imbalance ratio
            base = f"{part.loc[is_base, 'loss'].iloc[0]} (the matching one per row)"
        title = (
            f"dataset={problem} ({part['task'].iloc[0] or '?'}) · metric {metric} "
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
            p = [_p(r["p_value"]), _p(r["p_holm"])] if holm else [_p(r["p_value"])]
            dz = "" if _nan(r["d_z"]) else f"{r['d_z']:+.2f}"
            mde = "" if _nan(r["mde"]) else ("∞" if math.isinf(r["mde"]) else _num(r["mde"]))
            rows.append([labels[i], n, mean_std, ci, _signed(r["delta"]), *p, dz, mde, verdict])
        out.append((title, rows))
    return out


def _all_metrics(summary: Summary, problem: str, part: pd.DataFrame) -> tuple[list, list]:
    """Header and rows of every metric's mean ± std, marked ▲/▼ where the (corrected)
    comparison with the baseline is significant."""
    metrics = [m for m in summary.metrics if part[f"{m}_n"].sum() > 0]
    shown = [m for m in metrics if not m.startswith("recall_class_")]
    long = summary.long
    verdicts: dict[tuple[str, str], str] = {}
    if not long.empty:
        mine = long[long["problem"] == problem]
        verdicts = dict(
            zip(zip(mine["config"], mine["metric"], strict=True), mine["verdict"], strict=True)
        )
    body = [
        [r["config"]]
        + [
            f"{_num(r[f'{m}_mean'])} ± {_num(r[f'{m}_std'])}"
            + SHORT_MARK.get(verdicts.get((r["config"], m), ""), "")
            for m in shown
        ]
        for _, r in part.iterrows()
    ]
    return ["config", *shown], body


def markdown(summary: Summary, options: Options) -> str:
    """``summary.md``: per problem the headline table and its reading, then every metric,
    then the notes."""
    lines = ["# lossbench report", "", describe_method(options), ""]
    for (title, rows), (problem, part) in zip(
        headline_rows(summary), _problems(summary), strict=True
    ):
        lines += [f"## {title}", "", _md_table(_header(options), rows), ""]
        lines += [f"- {line}" for line in reading(part, options)] + [""]
        header, body = _all_metrics(summary, problem, part)
        lines += [
            "All metrics, mean ± std over completed jobs (▲/▼: differs from the "
            "baseline after correction; Δ and p of each in `summary.csv`):",
            "",
        ]
        lines += [_md_table(header, body), ""]
        if any(m.startswith("recall_class_") and part[f"{m}_n"].sum() > 0 for m in summary.metrics):
            lines += ["Per-class recall: `summary.csv` and `plots/`.", ""]
    if summary.leaderboard is not None:
        lines += ["## Across datasets", "", "See `leaderboard.md`.", ""]
    if summary.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in summary.notes] + [""]
    return "\n".join(lines)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)])


def write_markdown(summary: Summary, options: Options, out_dir: Path) -> None:
    atomic_write_text(out_dir / "summary.md", markdown(summary, options))


def emitter(console: Console | None = None) -> Callable[[Any], None]:
    """Where report text goes: ``console`` when one is given (tests), else the
    ``lossbench`` log (rich on the terminal, plain text in the job log)."""
    if console is not None:
        return console.print
    return lambda renderable: show(log, renderable)


def print_console(summary: Summary, options: Options, console: Console | None = None) -> None:
    """The headline tables with their readings, the notes, then the leaderboard."""
    emit = emitter(console)
    for (title, rows), (_, part) in zip(headline_rows(summary), _problems(summary), strict=True):
        # The title on its own line: as a rich table title it would wrap at the table's width.
        emit(Text(title, style="bold", overflow="fold"))
        table = Table()
        for name in _header(options):
            if name == "config":
                table.add_column(name, overflow="fold")
            else:
                table.add_column(name, justify="right", no_wrap=True)
        for row in rows:
            style = {"▲ win": "green", "▼ loss": "red"}.get(row[-1])
            table.add_row(*row, style=style)
        emit(table)
        for line in reading(part, options):
            emit(Text(f"  {line}"))
    emit(Text(describe_method(options), style="dim"))
    for note in summary.notes:
        emit(Text(f"note: {note}", style="yellow"))
    if summary.leaderboard is not None:
        from lossbench.report.leaderboard import print_leaderboard

        print_leaderboard(summary.leaderboard, emit)
