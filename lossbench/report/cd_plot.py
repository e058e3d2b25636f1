"""``plots/critical_difference.png``: the critical-difference diagram of Demšar 2006.

An axis of mean ranks (1 = best, on the left); each configuration hangs from its mean
rank, the better half labelled on the left, the rest on the right; thick bars join
configurations that no post-hoc test separates (pairwise Wilcoxon signed-rank over the
datasets with Holm's correction, Benavoli et al. 2016); the segment above the axis is
Nemenyi's critical difference for reference. Drawn headless (Agg).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from lossbench.io import atomic_write_bytes  # noqa: E402
from lossbench.report.leaderboard import Leaderboard  # noqa: E402
from lossbench.report.ranks import MIN_DATASETS_FOR_VERDICT  # noqa: E402

WIDTH_IN = 9.0
CHAR_IN = 0.075  # width of one character at font size 10, inches (approximate)


def draw(lb: Leaderboard, path: Path) -> Path | None:
    """Draw the diagram of ``lb`` into ``path`` (PNG); None when nothing is ranked."""
    if lb.table.empty:
        return None
    names = list(lb.table["config"])
    ranks = [float(r) for r in lb.table["mean_rank"]]
    k = len(names)
    labels = [f"{n} ({r:.2f})" for n, r in zip(names, ranks, strict=True)]
    label_in = max(map(len, labels)) * CHAR_IN + 0.3
    per_in = (k - 1) / max(WIDTH_IN - 0.4 - 2 * label_in, 1.0)  # rank units per inch
    lo, hi = 1 - label_in * per_in, k + label_in * per_in
    gap = 0.15 * per_in
    n_left = math.ceil(k / 2)
    bar_step, row_step = 0.35, 0.75
    bars_bottom = -0.35 - bar_step * len(lb.groups)
    bottom = bars_bottom - row_step * (max(n_left, k - n_left) + 0.3)
    top = 1.6
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.9 + 0.42 * (top - bottom)), layout="constrained")
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom, top)
    ax.set_axis_off()

    # The rank axis with ticks at every whole and half rank.
    ax.plot([1, k], [0, 0], color="black", lw=1.2)
    for t in range(1, k + 1):
        ax.plot([t, t], [0, 0.18], color="black", lw=1.2)
        ax.text(t, 0.3, str(t), ha="center", va="bottom", fontsize=10)
        if t < k:
            ax.plot([t + 0.5, t + 0.5], [0, 0.09], color="black", lw=0.8)

    # Nemenyi's critical difference, above the axis from rank 1.
    if math.isfinite(lb.cd):
        end = min(1 + lb.cd, hi)
        y = 1.2
        ax.plot([1, end], [y, y], color="tab:gray", lw=1.5)
        for x in (1, end):
            ax.plot([x, x], [y - 0.08, y + 0.08], color="tab:gray", lw=1.5)
        ax.text(
            end + gap,
            y,
            f"Nemenyi CD = {lb.cd:.2f} (α = {lb.alpha:g})",
            ha="left",
            va="center",
            fontsize=9,
            color="tab:gray",
        )

    # Groups not significantly different: thick bars just under the axis.
    for i, group in enumerate(lb.groups):
        xs = [ranks[names.index(g)] for g in group]
        y = -0.35 - bar_step * i
        ax.plot(
            [min(xs) - 0.04, max(xs) + 0.04], [y, y], color="black", lw=4, solid_capstyle="round"
        )

    # Each configuration: a line from its mean rank down and out to its label.
    for i, (label, r) in enumerate(zip(labels, ranks, strict=True)):
        left = i < n_left
        row = i if left else k - 1 - i
        y = bars_bottom - row_step * (row + 0.6)
        x_end = 1 - gap if left else k + gap
        ax.plot([r, r, x_end], [0, y, y], color="black", lw=0.9)
        ax.text(
            x_end - gap / 2 if left else x_end + gap / 2,
            y,
            label,
            ha="right" if left else "left",
            va="center",
            fontsize=10,
        )

    post = "Wilcoxon signed-rank over datasets, Holm"
    title = f"Mean rank over {lb.n} datasets (1 = best); bars: no significant difference ({post})"
    if lb.n < MIN_DATASETS_FOR_VERDICT:
        title += f"\nonly {lb.n} datasets: the tests have almost no power"
    ax.set_title(title, fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
