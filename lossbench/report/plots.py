"""``plots/*.png``, drawn headless with matplotlib's Agg backend.

- ``<metric>.png``: the headline metric per configuration, mean with its 95% CI and
  every seed as a dot; colour = verdict against the baseline (legend), each row's
  baseline mean a dashed reference mark, Δ and p written beside each row.
- ``<metric>_vs_<key>.png``: when a single numeric override is swept (e.g. the
  minority-class weight), the metric against its value.
- ``per_class_recall.png`` (classification): recall of each class against its
  training frequency, one panel per imbalance profile (the ``class_counts`` the
  jobs trained on), one line per configuration — where long-tailed losses differ.
- ``forecast_windows.png`` (forecast): the first test windows, input, truth and each
  configuration's prediction (from ``predictions.npz``).
- ``learning_curves.png``: training loss, validation loss and the validation
  metric per epoch from ``history.csv``, mean over seeds with a ± 1 std band.

Every figure uses constrained layout (nothing clipped). With several datasets in
one report every file name gets a ``_<dataset>`` suffix.
"""

from __future__ import annotations

import ast
import io
import json
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    FixedLocator,
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
)

from lossbench.io import atomic_write_bytes  # noqa: E402
from lossbench.records import HISTORY_FILE, METRICS_FILE, PREDICTIONS_FILE  # noqa: E402
from lossbench.report.collect import CHOICE_COLUMNS, Results  # noqa: E402
from lossbench.report.summary import Summary, direction  # noqa: E402

log = logging.getLogger(__name__)
from lossbench.report.tables import short_labels  # noqa: E402

N_WINDOWS = 3
DPI = 110
# Verdict -> (colour, legend text). Order is the legend's order.
VERDICTS = {
    "baseline": ("0.45", "baseline"),
    "win": ("tab:green", "significant win"),
    "loss": ("tab:red", "significant loss"),
    "n.s.": ("tab:blue", "not significant"),
    "other": ("0.75", "no test / no baseline"),
}
LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def draw_all(results: Results, summary: Summary, out_dir: Path) -> list[Path]:
    """Every plot that applies to the data; returns the files written."""
    plot_dir = out_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    datasets = list(dict.fromkeys(summary.df["dataset"]))
    for dataset in datasets:
        suffix = f"_{dataset}" if len(datasets) > 1 else ""
        part = summary.df[summary.df["dataset"] == dataset].copy()
        if f"{part['metric'].iloc[0]}_mean" not in part.columns:
            continue  # no job of this dataset completed
        part["label"] = short_labels(part)
        jobs = {i: _job_rows(results, r) for i, r in part.iterrows()}
        written += _metric_bars(part, results, jobs, plot_dir, suffix)
        written += _numeric_sweep(part, results, plot_dir, suffix)
        if part["task"].iloc[0] == "classification":
            written += _per_class_recall(part, results, jobs, plot_dir, suffix)
        if part["task"].iloc[0] == "forecast":
            written += _forecast_windows(part, results, jobs, plot_dir, suffix)
        written += _learning_curves(part, results, jobs, plot_dir, suffix)
    return written


def _job_rows(results: Results, row: pd.Series) -> list[int]:
    """Indices (into ``results.df``) of the completed jobs of ``row``'s configuration,
    lowest seed first."""
    df = results.df[results.df["status"] == "completed"]
    keys = results.group_keys
    df = df[(df[keys] == row[keys]).all(axis=1)]
    return list(df.sort_values("seed").index)


def _figure(width: float, height: float, ncols: int = 1, **kw) -> tuple[plt.Figure, np.ndarray]:
    fig, axes = plt.subplots(
        1, ncols, figsize=(width, height), squeeze=False, layout="constrained", **kw
    )
    return fig, axes[0]


def _save(fig: plt.Figure, path: Path) -> list[Path]:
    """Render to memory, then write atomically: a viewer never sees half a PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return [path]


def _style(i: int, n: int = 1) -> dict:
    """Colour, line style, marker and size of the i-th of ``n`` lines.

    Two lines never look alike, and where curves coincide (logit adjustment and
    balanced softmax at tau = 1) each later one is drawn thinner, with smaller
    markers, on top of the earlier ones, so every curve stays visible.
    """
    shrink = 0.0 if n <= 1 else i / (n - 1)
    return {
        "color": f"C{i % 10}",
        "linestyle": LINESTYLES[i % len(LINESTYLES)],
        "marker": MARKERS[i % len(MARKERS)],
        "linewidth": 2.6 - 1.4 * shrink,
        "markersize": 7.5 - 4.0 * shrink,
        "zorder": 3 + 0.01 * i,
    }


def _log_axis(axis, values: np.ndarray) -> None:
    """Log scale with labelled ticks at 1-2-5 (or every decade when the range is wide)."""
    finite = values[np.isfinite(values) & (values > 0)]
    decades = np.log10(finite.max() / finite.min()) if finite.size else 0.0
    subs = (1.0,) if decades > 4 else (1.0, 2.0, 5.0) if decades > 1 else (1.0, 1.5, 2, 3, 5, 7)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(LogLocator(base=10, subs=np.arange(1, 10)))
    axis.set_minor_formatter(NullFormatter())


def _verdict_key(verdict: str) -> str:
    return verdict if verdict in VERDICTS else "other"


def _metric_bars(part: pd.DataFrame, results: Results, jobs, plot_dir: Path, suffix: str):
    """Mean and 95% CI per configuration (a point and its interval, coloured by verdict),
    every seed as a dot, and each row's baseline mean as a dashed reference mark.

    Points, not bars: the axis is zoomed on the data, and a bar's length from an
    arbitrary axis start would exaggerate small differences.
    """
    metric = part["metric"].iloc[0]
    means = part[f"{metric}_mean"].to_numpy(dtype=float)
    if not np.isfinite(means).any():
        return []
    ci = np.nan_to_num(part[f"{metric}_ci95"].to_numpy(dtype=float))
    keys = [_verdict_key(v) for v in part["verdict"]]
    n = len(part)
    longest = max(len(str(label)) for label in part["label"])
    fig, (ax,) = _figure(max(7.5, 5.5 + 0.075 * longest), max(3.2, 1.4 + 0.42 * n))
    y = np.arange(n)[::-1]  # first configuration on top
    # A row's baseline: the row named in its ``baseline`` column, within its problem
    # (the dataset with its options) where the summary has one.
    scope = part["problem"] if "problem" in part.columns else part["dataset"]
    names = list(zip(scope, part["config"], strict=True))
    base_mean = dict(zip(names, part[f"{metric}_mean"], strict=True))
    rows = zip(y, means, ci, keys, zip(scope, part["baseline"], strict=True), strict=True)
    for yi, m, c, k, b in rows:
        color = VERDICTS[k][0]
        ax.errorbar(m, yi, xerr=c, fmt="o", color=color, ms=8, lw=2.5, capsize=5, zorder=3)
        if b in base_mean and np.isfinite(base_mean[b]):
            ax.vlines(base_mean[b], yi - 0.42, yi + 0.42, color="black", ls="--", lw=1, zorder=2)
    for yi, idx in zip(y, part.index, strict=True):
        seeds = results.df.loc[jobs[idx], metric].to_numpy(dtype=float)
        offset = np.linspace(-0.22, 0.22, len(seeds)) if len(seeds) > 1 else np.zeros(1)
        ax.scatter(seeds, yi + offset[: len(seeds)], s=12, color="0.2", zorder=4, lw=0)
    ax.set_yticks(y, part["label"])
    ax.set_ylim(-0.6, n - 0.4)
    seed_vals = results.df.loc[[i for v in jobs.values() for i in v], metric].to_numpy(float)
    span = np.concatenate([means - ci, means + ci, seed_vals])
    span = span[np.isfinite(span)]
    lo, hi = span.min(), span.max()
    pad = 0.08 * (hi - lo) if hi > lo else 0.05 * abs(hi) + 1e-3
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(f"test {metric} ({direction(metric)})")
    # The p the verdict used: Holm-adjusted where the summary has it.
    p_col = "p_holm" if "p_holm" in part.columns else "p_value"
    p_name = "p_holm" if p_col == "p_holm" else "p"
    p_values = pd.to_numeric(part[p_col], errors="coerce").to_numpy(dtype=float)
    for yi, d, p in zip(y, part["delta"].to_numpy(dtype=float), p_values, strict=True):
        if np.isfinite(d):
            text = f"Δ {d:+.4f}" + (f"  {p_name}={p:.2g}" if np.isfinite(p) else "")
            ax.annotate(
                text, (1.01, yi), xycoords=("axes fraction", "data"), va="center", fontsize=8
            )
    present = set(keys)
    handles = [
        Line2D([], [], color=VERDICTS[k][0], marker="o", ms=7, lw=2.5, label=VERDICTS[k][1])
        for k in VERDICTS
        if k in present
    ]
    handles.append(Line2D([], [], color="0.2", marker="o", ls="", ms=3, label="one seed"))
    handles.append(Line2D([], [], color="0.3", lw=2.5, label="95% CI of the mean"))
    if (part["verdict"] == "baseline").any():
        handles.append(Line2D([], [], color="black", ls="--", lw=1, label="baseline mean"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), fontsize=8)
    ax.set_title(f"{part['dataset'].iloc[0]}: test {metric} per configuration", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
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
    verdicts = [_verdict_key(v) for v in np.asarray(part["verdict"])[order]]
    fig, (ax,) = _figure(6.5, 4.0)
    ax.errorbar(x, y, yerr=err, color="0.3", capsize=4, zorder=2, label="mean, 95% CI")
    for k in dict.fromkeys(verdicts):
        sel = [v == k for v in verdicts]
        ax.scatter(x[sel], y[sel], color=VERDICTS[k][0], s=40, zorder=3, label=VERDICTS[k][1])
    if x.min() > 0 and x.max() / x.min() >= 10:
        ax.set_xscale("log")
        _log_axis(ax.xaxis, x)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"test {metric}\n({direction(metric)})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{part['dataset'].iloc[0]}: {metric} against {xlabel}", fontsize=10)
    return _save(fig, plot_dir / f"{metric}_vs_{key.replace('/', '_')}{suffix}.png")


def _class_counts(results: Results, index: int) -> tuple[int, ...] | None:
    """The training class counts one job recorded (its imbalance profile)."""
    path = results.dirs[index] / METRICS_FILE
    try:
        counts = json.loads(path.read_text()).get("class_counts")
    except (OSError, ValueError):
        return None
    return tuple(int(c) for c in counts) if counts else None


def _profile_title(counts: tuple[int, ...]) -> str:
    ratio = max(counts) / max(min(counts), 1)
    return f"{len(counts)} classes, n = {max(counts)} … {min(counts)} (ratio {ratio:.3g})"


def _per_class_recall(part: pd.DataFrame, results: Results, jobs, plot_dir: Path, suffix: str):
    """One panel per imbalance profile: recall per class against its training count."""
    profiles: dict[tuple[int, ...], list] = {}
    for idx, r in part.iterrows():
        counts = next(
            (c for c in (_class_counts(results, j) for j in jobs[idx]) if c is not None), None
        )
        cols = [f"recall_class_{c}_mean" for c in range(len(counts or ()))]
        if counts and all(c in part.columns for c in cols):
            recall = np.array([r[c] for c in cols], dtype=float)
            if np.isfinite(recall).any():
                profiles.setdefault(counts, []).append((r, recall))
    if not profiles:
        return []
    n = len(profiles)
    fig, axes = _figure(min(5.2 * n, 16) + 1.6, 4.2, ncols=n, sharey=True)
    panel_labels = {
        counts: short_labels(pd.DataFrame([r for r, _ in rows]))
        if n > 1
        else [r["label"] for r, _ in rows]
        for counts, rows in profiles.items()
    }
    # One style per label across panels, so "ce" looks the same in every profile.
    names = list(dict.fromkeys(label for labels in panel_labels.values() for label in labels))
    for ax, (counts, rows) in zip(axes, profiles.items(), strict=True):
        order = np.argsort(counts, kind="stable")[::-1]
        freq = np.asarray(counts, dtype=float)[order]
        for label, (_, recall) in zip(panel_labels[counts], rows, strict=True):
            style = _style(names.index(label), len(names))
            ax.plot(freq, recall[order], label=label, alpha=0.9, **style)
        if freq.min() > 0 and freq.max() > freq.min():
            ax.set_xscale("log")
            _log_axis(ax.xaxis, freq)
            ticks = np.unique(freq)
            if len(ticks) <= 12:  # label the class counts themselves
                ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.invert_xaxis()
        ax.set_xlabel("training samples of the class (head → tail)")
        ax.set_title(_profile_title(counts), fontsize=9)
        ax.grid(alpha=0.3)
    handles = {}
    for ax in axes:
        handles |= dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    fig.legend(
        [handles[k] for k in names], names, loc="outside right upper", fontsize=8, frameon=False
    )
    axes[0].set_ylabel("test recall (mean over seeds)")
    fig.suptitle(
        f"{part['dataset'].iloc[0]}: per-class recall against training frequency", fontsize=10
    )
    return _save(fig, plot_dir / f"per_class_recall{suffix}.png")


def _load_predictions(path: Path) -> dict[str, np.ndarray] | None:
    """A job's saved windows (``x``, ``y``, ``pred``), or None when absent or unreadable
    (a malformed file is skipped with one line: the other plots are still drawn)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            saved = {k: np.asarray(npz[k]) for k in ("x", "y", "pred")}
    except Exception as exc:  # BadZipFile, a missing array, a truncated file, ...
        log.warning(f"report: skipped {path}: unreadable ({exc.__class__.__name__}: {exc})")
        return None
    if saved["y"].shape != saved["pred"].shape or saved["y"].ndim < 2:
        log.warning(f"report: skipped {path}: y and pred shapes differ")
        return None
    return saved


def _forecast_windows(part, results: Results, jobs, plot_dir: Path, suffix: str) -> list[Path]:
    """Input, truth and every configuration's forecast on the first test windows."""
    preds: dict[str, tuple] = {}
    for idx, r in part.iterrows():
        for j in jobs[idx]:
            saved = _load_predictions(results.dirs[j] / PREDICTIONS_FILE)
            if saved is not None:
                preds[r["label"]] = (saved, results.df.at[j, "seed"])
                break
    if not preds:
        return []
    ref = next(iter(preds.values()))[0]
    n = min(N_WINDOWS, ref["y"].shape[0])
    fig, axes = _figure(4.4 * n, 3.6, ncols=n)
    for i, ax in enumerate(axes):
        truth = ref["y"][i].reshape(ref["y"].shape[1], -1)[:, 0]
        hist = ref["x"][i].reshape(ref["x"].shape[1], -1)[:, 0]
        hist = hist[-max(3 * len(truth), 12) :]  # enough context; the forecast stays legible
        t_hist = np.arange(-len(hist), 0)
        t_fut = np.arange(len(truth))
        ax.plot(t_hist, hist, color="0.55", lw=1.2, label="input", zorder=2)
        ax.plot(t_fut, truth, color="black", lw=2.4, label="truth", zorder=2)
        for k, (config, (p, seed)) in enumerate(preds.items()):
            pred = p["pred"][i].reshape(p["pred"].shape[1], -1)[:, 0]
            style = _style(k, len(preds)) | {"marker": None}
            ax.plot(t_fut, pred, label=f"{config} (seed {seed})", **style)
        ax.axvline(-0.5, color="0.8", lw=1, zorder=1)
        ax.set_title(f"test window {i}", fontsize=10)
        ax.set_xlabel("time step (0 = first forecast step)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("value (first target channel)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(5, len(labels)), fontsize=8)
    fig.suptitle(f"{part['dataset'].iloc[0]}: forecasts on the first test windows", fontsize=10)
    return _save(fig, plot_dir / f"forecast_windows{suffix}.png")


def _learning_curves(part, results: Results, jobs, plot_dir: Path, suffix: str) -> list[Path]:
    """Per epoch: mean over seeds with a ± 1 std band, one line style per configuration."""
    metric = part["metric"].iloc[0]
    curves: dict[str, tuple[pd.DataFrame, pd.DataFrame, pd.Series]] = {}
    for idx, r in part.iterrows():
        frames = [
            pd.read_csv(results.dirs[j] / HISTORY_FILE)
            for j in jobs[idx]
            if (results.dirs[j] / HISTORY_FILE).exists()
        ]
        if frames:
            by_epoch = pd.concat(frames).groupby("epoch")
            std = by_epoch.std(numeric_only=True)
            curves[r["label"]] = (by_epoch.mean(numeric_only=True), std, by_epoch.size())
    if not curves:
        return []
    panels = ["train_loss", "val_loss", f"val_{metric}"]
    panels = [p for p in panels if any(p in m.columns for m, _, _ in curves.values())]
    if not panels:
        return []
    fig, axes = _figure(4.6 * len(panels), 3.8, ncols=len(panels))
    for ax, col in zip(axes, panels, strict=True):
        values = []
        for i, (config, (mean, std, n)) in enumerate(curves.items()):
            if col not in mean.columns:
                continue
            style = _style(i, len(curves))
            every = max(1, len(mean) // 8)
            ax.plot(mean.index, mean[col], label=config, markevery=(i % every, every), **style)
            band = (n >= 2).to_numpy() & np.isfinite(std[col].to_numpy(dtype=float))
            lo = (mean[col] - std[col]).to_numpy(dtype=float)
            hi = (mean[col] + std[col]).to_numpy(dtype=float)
            ax.fill_between(mean.index, lo, hi, where=band, color=style["color"], alpha=0.15, lw=0)
            values.append(mean[col].to_numpy(dtype=float))
            values.append(lo[band])  # a band reaching 0 or below rules out a log axis
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(col, fontsize=10)
        ax.grid(alpha=0.3)
        allv = np.concatenate(values) if values else np.array([])
        allv = allv[np.isfinite(allv)]
        error_like = col.endswith("loss") or direction(metric) == "lower is better"
        positive = allv.size and (allv > 0).all()
        if error_like and positive and (col.endswith("loss") or allv.max() / allv.min() > 10):
            ax.set_yscale("log")
            _log_axis(ax.yaxis, allv)
    nseeds = max(int(n.max()) for _, _, n in curves.values())
    axes[0].set_ylabel(f"mean over {nseeds} seed(s), band ± 1 std")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), fontsize=8)
    fig.suptitle(f"{part['dataset'].iloc[0]}: learning curves", fontsize=10)
    return _save(fig, plot_dir / f"learning_curves{suffix}.png")
