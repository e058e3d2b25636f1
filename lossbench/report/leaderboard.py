"""Which configuration is best across datasets: ``leaderboard.csv`` and ``leaderboard.md``.

Written when a report spans two or more problems (datasets, with their ``dataset.*``
options). On each problem the configurations are ranked by the mean of its headline
metric in its better direction (1 = best, ties share the average rank); the
leaderboard orders them by mean rank (Demšar 2006, JMLR 7). Beside it: wins / ties /
losses against the baseline (the per-dataset verdicts after Holm), Friedman's and
Iman-Davenport's tests of equal mean ranks, Nemenyi's critical difference, and pairwise
Wilcoxon signed-rank tests over datasets with Holm's correction as the post-hoc
(Benavoli, Corani & Mangili 2016, JMLR 17), which also draws the bars of
``plots/critical_difference.png``. Only configurations with a result on every problem
are ranked; the others are named. With fewer than 5 datasets the Friedman test has
almost no power, and no verdict is printed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table
from rich.text import Text

from lossbench.evaluation.registry import greater_is_better
from lossbench.io import atomic_write_text
from lossbench.report.ranks import (
    MIN_DATASETS_FOR_VERDICT,
    Friedman,
    cliques,
    friedman,
    nemenyi_cd,
    pairwise_wilcoxon,
    rank_rows,
)


@dataclass
class Pair:
    a: str
    b: str
    p: float
    p_holm: float
    better: str  # the configuration with the better mean rank


@dataclass
class Leaderboard:
    table: pd.DataFrame  # one row per ranked configuration, best mean rank first
    problems: list[str]
    metrics: dict[str, str]  # problem -> headline metric
    left_out: list[str]
    alpha: float
    friedman: Friedman | None = None
    cd: float = math.nan
    pairs: list[Pair] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)  # not significantly different
    verdict: str = ""

    @property
    def n(self) -> int:
        return len(self.problems)

    @property
    def k(self) -> int:
        return len(self.table)


def build(summary_df: pd.DataFrame, alpha: float = 0.05) -> Leaderboard | None:
    """The leaderboard of a summary's wide table, or None with fewer than two problems."""
    df = summary_df
    if df.empty or "problem" not in df.columns:
        return None
    problems = list(dict.fromkeys(df["problem"]))
    if len(problems) < 2:
        return None
    metrics = {p: str(df.loc[df["problem"] == p, "metric"].iloc[0]) for p in problems}
    configs = list(dict.fromkeys(df["config"]))
    mean: dict[tuple[str, str], float] = {}
    verdicts: dict[tuple[str, str], str] = {}
    for _, r in df.iterrows():
        key = (r["problem"], r["config"])
        if key in mean:
            continue
        col = f"{metrics[r['problem']]}_mean"
        value = float(r[col]) if col in r and pd.notna(r[col]) else math.nan
        mean[key] = value
        verdicts[key] = str(r["verdict"])
    ranked = [
        c for c in configs if all(math.isfinite(mean.get((p, c), math.nan)) for p in problems)
    ]
    left_out = [c for c in configs if c not in ranked]
    lb = Leaderboard(pd.DataFrame(), problems, metrics, left_out, alpha)
    if len(ranked) < 2:
        lb.verdict = "fewer than two configurations have a result on every dataset: no ranking"
        return lb
    sign = np.array([1.0 if greater_is_better(metrics[p]) else -1.0 for p in problems])
    raw = np.array([[mean[(p, c)] for c in ranked] for p in problems])
    # Equal means are ties; rounding to 12 digits keeps float noise from breaking them.
    scores = np.round(raw * sign[:, None], 12)
    ranks = rank_rows(scores)
    # Best mean rank first, so the pairwise table reads in leaderboard order.
    first = np.argsort(ranks.mean(axis=0), kind="stable")
    ranked = [ranked[j] for j in first]
    raw, scores, ranks = raw[:, first], scores[:, first], ranks[:, first]
    mean_rank = ranks.mean(axis=0)
    order = list(range(len(ranked)))
    rows = []
    for pos, j in enumerate(order, start=1):
        c = ranked[j]
        v = [verdicts[(p, c)] for p in problems]
        row = {
            "position": pos,
            "config": c,
            "mean_rank": float(mean_rank[j]),
            "wins": v.count("win"),
            "ties": v.count("n.s."),
            "losses": v.count("loss"),
            "no_test": len(v) - v.count("win") - v.count("n.s.") - v.count("loss"),
            "baseline_on": v.count("baseline"),
        }
        row.update({f"rank {p}": float(ranks[i, j]) for i, p in enumerate(problems)})
        row.update({f"mean {p}": float(raw[i, j]) for i, p in enumerate(problems)})
        rows.append(row)
    lb.table = pd.DataFrame(rows)
    lb.friedman = friedman(ranks)
    lb.cd = nemenyi_cd(len(ranked), len(problems), alpha)
    tests = pairwise_wilcoxon(scores)
    lb.pairs = [
        Pair(
            ranked[t.a],
            ranked[t.b],
            t.p,
            t.p_holm,
            ranked[t.a] if mean_rank[t.a] <= mean_rank[t.b] else ranked[t.b],
        )
        for t in tests
    ]
    different = {frozenset((t.a, t.b)) for t in tests if t.p_holm < alpha}
    lb.groups = [[ranked[j] for j in g] for g in cliques(order, different)]
    lb.verdict = _verdict(lb)
    return lb


def _verdict(lb: Leaderboard) -> str:
    fr = lb.friedman
    assert fr is not None
    stats = (
        f"Friedman χ² = {fr.chi2:.3f} (df {fr.df1}, p = {fr.p_chi2:.3g}); Iman-Davenport "
        f"F = {fr.f:.3f} (df {fr.df1}, {fr.df2}, p = {fr.p_f:.3g})"
    )
    if lb.n < MIN_DATASETS_FOR_VERDICT:
        return (
            f"{stats}. With only {lb.n} datasets (fewer than {MIN_DATASETS_FOR_VERDICT}) the "
            "Friedman test has almost no power: no verdict is drawn, and the ranks are "
            "descriptive only."
        )
    if not fr.p_f < lb.alpha:
        return (
            f"{stats}: no significant difference among the {lb.k} mean ranks at α = {lb.alpha:g}."
        )
    floor = _posthoc_floor(lb)
    if floor >= lb.alpha:
        return (
            f"{stats}: the mean ranks differ at α = {lb.alpha:g}. The post-hoc cannot separate "
            f"any pair: with {lb.n} datasets and {len(lb.pairs)} pairs the smallest possible "
            f"Holm-adjusted Wilcoxon p is {floor:.3g} (more datasets are needed)."
        )
    sig = [p for p in lb.pairs if p.p_holm < lb.alpha]
    post = (
        "; ".join(f"{p.better} > {p.b if p.better == p.a else p.a}" for p in sig)
        or "no pair differs after Holm's correction"
    )
    return (
        f"{stats}: the mean ranks differ at α = {lb.alpha:g}. Post-hoc (Wilcoxon "
        f"signed-rank over datasets, Holm): {post}."
    )


def _posthoc_floor(lb: Leaderboard) -> float:
    """The smallest Holm-adjusted p any pair can get: m x 2 / 2^N (exact signed-rank test
    with all N differences of one sign)."""
    return min(1.0, len(lb.pairs) * 2.0 / 2.0**lb.n)


def _fmt(x: float, digits: int = 2) -> str:
    return "" if not math.isfinite(x) else f"{x:.{digits}f}"


def _wtl(r: pd.Series) -> str:
    if r["baseline_on"] == len([c for c in r.index if c.startswith("rank ")]):
        return "baseline"
    text = f"{r['wins']}/{r['ties']}/{r['losses']}"
    return text + (f" ({r['no_test']} untested)" if r["no_test"] - r["baseline_on"] > 0 else "")


def markdown(lb: Leaderboard) -> str:
    """``leaderboard.md``."""
    if len(set(lb.metrics.values())) == 1:
        metrics = f"headline metric {next(iter(lb.metrics.values()))}"
    else:
        metrics = "headline metrics " + ", ".join(f"{p}: {m}" for p, m in lb.metrics.items())
    lines = [
        "# lossbench leaderboard across datasets",
        "",
        f"{lb.n} datasets, {metrics}. Per dataset each configuration is ranked by the mean "
        "of the headline metric in its better direction (1 = best; ties share the average "
        "rank); rows are ordered by mean rank. W/T/L: wins / ties (no significant "
        "difference) / losses against the baseline on the datasets, from the per-dataset "
        "verdicts after Holm's correction.",
        "",
    ]
    if not lb.table.empty:
        header = ["#", "config", "mean rank", "W/T/L vs baseline", *lb.problems]
        body = [
            [
                str(r["position"]),
                r["config"],
                _fmt(r["mean_rank"]),
                _wtl(r),
                *(f"{r[f'rank {p}']:g} ({r[f'mean {p}']:.4g})" for p in lb.problems),
            ]
            for _, r in lb.table.iterrows()
        ]
        lines += [_md_table(header, body), "", "Cells: rank (mean).", ""]
        lines += [
            lb.verdict,
            "",
            f"Nemenyi critical difference (α = {lb.alpha:g}, k = {lb.k}, N = {lb.n}): "
            f"CD = {lb.cd:.3f}; two mean ranks further apart than CD differ by Nemenyi's test.",
            "",
            "Pairwise Wilcoxon signed-rank tests over the datasets (on the per-dataset means, "
            "Holm-corrected over all pairs; Benavoli et al. 2016):",
            "",
            _md_table(
                ["A", "B", "p", "p_holm"],
                [[p.a, p.b, f"{p.p:.3g}", f"{p.p_holm:.3g}"] for p in lb.pairs],
            ),
            "",
            "![critical difference diagram](plots/critical_difference.png)",
            "",
        ]
    else:
        lines += [lb.verdict, ""]
    if lb.left_out:
        lines += [f"Not ranked (missing on some dataset): {', '.join(lb.left_out)}.", ""]
    return "\n".join(lines)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)])


def write(lb: Leaderboard, out_dir: Path) -> None:
    """``leaderboard.csv`` (one row per ranked configuration) and ``leaderboard.md``."""
    atomic_write_text(out_dir / "leaderboard.csv", lb.table.to_csv(index=False))
    atomic_write_text(out_dir / "leaderboard.md", markdown(lb))


def print_leaderboard(lb: Leaderboard, emit: Callable[[Any], None]) -> None:
    """The leaderboard as a rich table, after the per-dataset tables; ``emit`` prints a
    renderable (a console's ``print``, or the report's log, see ``tables.emitter``)."""
    title = f"leaderboard across {lb.n} datasets · mean rank (1 = best)"
    if lb.table.empty:
        emit(Text(f"{title}: {lb.verdict}"))
        return
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("config", overflow="fold")
    table.add_column("mean rank", justify="right")
    table.add_column("W/T/L vs baseline", justify="right")
    for p in lb.problems:
        table.add_column(p, justify="right", overflow="fold")
    for _, r in lb.table.iterrows():
        table.add_row(
            str(r["position"]),
            r["config"],
            _fmt(r["mean_rank"]),
            _wtl(r),
            *(f"{r[f'rank {p}']:g}" for p in lb.problems),
        )
    emit(table)
    emit(Text(f"  {lb.verdict}"))
    emit(Text(f"  Nemenyi CD (α = {lb.alpha:g}) = {lb.cd:.3f}"))
    if lb.left_out:
        emit(Text(f"  not ranked (missing on some dataset): {', '.join(lb.left_out)}"))
