"""``plots/*.png``, drawn headless with matplotlib's Agg backend.

- ``<metric>.png``: the headline metric per configuration, mean with 95% CI bars;
  the baseline grey, significant wins green, significant losses red.
- ``<metric>_vs_<key>.png``: when a single numeric override is swept (e.g. the
  minority-class weight), the metric against its value.
- ``per_class_recall.png`` (classification): recall of each class against its
  training frequency, one line per configuration — where long-tailed losses differ.
- ``forecast_windows.png`` (forecast): the first test windows, truth and each
  configuration's prediction (from ``predictions.npz``).
- ``learning_curves.png``: training loss and validation curves from ``history.csv``,
  mean over seeds.

With several datasets in one report every file name gets a ``_<dataset>`` suffix.
"""

from __future__ import annotations

import ast
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lossbench.io import atomic_write_bytes  # noqa: E402
from lossbench.report.collect import CHOICE_COLUMNS, Results  # noqa: E402
from lossbench.report.summary import Summary  # noqa: E402

COLORS = {"baseline": "0.6", "win": "tab:green", "loss": "tab:red"}
PREDICTIONS_FILE = "predictions.npz"
N_WINDOWS = 3


def draw_all(results: Results, summary: Summary, out_dir: Path) -> list[Path]:
    """Every plot that applies to the data; returns the files written."""
    plot_dir = out_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    datasets = list(dict.fromkeys(summary.df["dataset"]))
    for dataset in datasets:
        suffix = f"_{dataset}" if len(datasets) > 1 else ""
        part = summary.df[summary.df["dataset"] == dataset]
        if f"{part['metric'].iloc[0]}_mean" not in part.columns:
            continue  # no job of this dataset completed
        jobs = results.df["dataset"] == dataset
        written += _metric_bars(part, plot_dir, suffix)
        written += _numeric_sweep(part, results, plot_dir, suffix)
        if part["task"].iloc[0] == "classification" and dataset in results.class_counts:
            written += _per_class_recall(part, results.class_counts[dataset], plot_dir, suffix)
        if part["task"].iloc[0] == "forecast":
            written += _forecast_windows(part, results, jobs, plot_dir, suffix)
        written += _learning_curves(part, results, jobs, plot_dir, suffix)
    return written


def _save(fig: plt.Figure, path: Path) -> list[Path]:
    """Render to memory, then write atomically: a viewer never sees half a PNG."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return [path]


def _metric_bars(part: pd.DataFrame, plot_dir: Path, suffix: str) -> list[Path]:
    metric = part["metric"].iloc[0]
    means = part[f"{metric}_mean"].to_numpy(dtype=float)
    if not np.isfinite(means).any():
        return []
    ci = np.nan_to_num(part[f"{metric}_ci95"].to_numpy(dtype=float))
    colors = [COLORS.get(v, "tab:blue") for v in part["verdict"]]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(part) + 1.5), 3.6))
    x = np.arange(len(part))
    ax.bar(x, means, yerr=ci, color=colors, capsize=4)
    ax.set_xticks(x, part["config"], rotation=30, ha="right")
    ax.set_ylabel(f"test {metric} (mean, 95% CI)")
    finite = means[np.isfinite(means)]
    lo, hi = finite.min() - ci.max(), finite.max() + ci.max()
    pad = 0.15 * (hi - lo) if hi > lo else 0.05 * abs(hi) + 1e-3
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_title(f"{part['dataset'].iloc[0]}: {metric} per configuration", fontsize=10)
    return _save(fig, plot_dir / f"{metric}{suffix}.png")


def _numeric(value: str) -> float | list[float] | None:
    try:
        v = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, list | tuple) and v and all(isinstance(e, int | float) for e in v):
        return [float(e) for e in v]
    return None


def _numeric_sweep(part: pd.DataFrame, results: Results, plot_dir: Path, suffix: str):
    """The metric against the one numeric override that varies (list: its varying entry)."""
    metric = part["metric"].iloc[0]
    part = part[np.isfinite(part[f"{metric}_mean"].to_numpy(dtype=float))]
    keys = [k for k in results.group_keys if k not in CHOICE_COLUMNS]
    if len(part) < 2:
        return []
    varying = [k for k in keys if part[k].nunique() > 1]
    if len(varying) != 1 or part["loss"].nunique() > 1:
        return []
    key = varying[0]
    values = [_numeric(v) for v in part[key]]
    if any(v is None for v in values):
        return []
    if isinstance(values[0], list):
        lengths = {len(v) for v in values}
        if len(lengths) != 1:
            return []
        moving = [i for i in range(lengths.pop()) if len({v[i] for v in values}) > 1]
        if len(moving) != 1:
            return []
        xs = [v[moving[0]] for v in values]
        xlabel = f"{key}[{moving[0]}]"
    else:
        xs, xlabel = values, key
    order = np.argsort(xs)
    x = np.asarray(xs)[order]
    y = part[f"{metric}_mean"].to_numpy(dtype=float)[order]
    err = np.nan_to_num(part[f"{metric}_ci95"].to_numpy(dtype=float))[order]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.errorbar(x, y, yerr=err, marker="o", capsize=4)
    if x.min() > 0 and x.max() / x.min() >= 10:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"test {metric} (mean, 95% CI)")
    ax.set_title(f"{part['dataset'].iloc[0]}: {metric} against {xlabel}", fontsize=10)
    return _save(fig, plot_dir / f"{metric}_vs_{key.replace('/', '_')}{suffix}.png")


def _per_class_recall(part: pd.DataFrame, counts: list[int], plot_dir: Path, suffix: str):
    cols = [f"recall_class_{c}_mean" for c in range(len(counts))]
    if not all(c in part.columns for c in cols):
        return []
    order = np.argsort(counts)[::-1]
    freq = np.asarray(counts, dtype=float)[order]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for _, r in part.iterrows():
        recall = np.array([r[c] for c in cols], dtype=float)[order]
        if np.isfinite(recall).any():
            ax.plot(freq, recall, marker="o", label=r["config"])
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("training samples of the class (head → tail)")
    ax.set_ylabel("test recall (mean over seeds)")
    ax.set_title(
        f"{part['dataset'].iloc[0]}: per-class recall against class frequency", fontsize=10
    )
    ax.legend(fontsize=7)
    return _save(fig, plot_dir / f"per_class_recall{suffix}.png")


def _first_job(results: Results, jobs: pd.Series, row: pd.Series) -> list[Path]:
    """Job directories of ``row``'s configuration that completed, lowest seed first."""
    df = results.df[jobs & (results.df["status"] == "completed")]
    df = df[(df[results.group_keys] == row[results.group_keys]).all(axis=1)]
    df = df.sort_values("seed")
    return [results.dirs[i] for i in df.index]


def _forecast_windows(part, results, jobs, plot_dir: Path, suffix: str) -> list[Path]:
    preds = {}
    for _, r in part.iterrows():
        for d in _first_job(results, jobs, r):
            if (d / PREDICTIONS_FILE).exists():
                preds[r["config"]] = np.load(d / PREDICTIONS_FILE)
                break
    if not preds:
        return []
    ref = next(iter(preds.values()))
    n = min(N_WINDOWS, ref["y"].shape[0])
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.2), squeeze=False)
    for i, ax in enumerate(axes[0]):
        hist = ref["x"][i].reshape(ref["x"].shape[1], -1)[:, 0]
        truth = ref["y"][i].reshape(ref["y"].shape[1], -1)[:, 0]
        t_hist = np.arange(-len(hist), 0)
        t_fut = np.arange(len(truth))
        ax.plot(t_hist, hist, color="0.5", label="input")
        ax.plot(t_fut, truth, color="black", lw=2, label="truth")
        for config, p in preds.items():
            pred = p["pred"][i].reshape(p["pred"].shape[1], -1)[:, 0]
            ax.plot(t_fut, pred, lw=1.2, label=config)
        ax.set_title(f"test window {i}", fontsize=10)
        ax.set_xlabel("time step (0 = first forecast)")
    axes[0][0].legend(fontsize=7)
    return _save(fig, plot_dir / f"forecast_windows{suffix}.png")


def _learning_curves(part, results, jobs, plot_dir: Path, suffix: str) -> list[Path]:
    metric = part["metric"].iloc[0]
    curves: dict[str, pd.DataFrame] = {}
    for _, r in part.iterrows():
        frames = [
            pd.read_csv(d / "history.csv")
            for d in _first_job(results, jobs, r)
            if (d / "history.csv").exists()
        ]
        if frames:
            curves[r["config"]] = pd.concat(frames).groupby("epoch").mean(numeric_only=True)
    if not curves:
        return []
    panels = ["train_loss", f"val_{metric}"]
    panels = [p for p in panels if any(p in c.columns for c in curves.values())]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.4), squeeze=False)
    for ax, col in zip(axes[0], panels, strict=True):
        for config, c in curves.items():
            if col in c.columns:
                ax.plot(c.index, c[col], label=config)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{col} (mean over seeds)")
        if col == "train_loss" and all(
            (c[col] > 0).all() for c in curves.values() if col in c.columns
        ):
            ax.set_yscale("log")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{part['dataset'].iloc[0]}: learning curves", fontsize=10)
    return _save(fig, plot_dir / f"learning_curves{suffix}.png")
