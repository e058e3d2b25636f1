"""Group jobs over seeds and compare every configuration with its baseline.

A group is every job with the same dataset/model/loss/optimizer and the same
values of every other override except ``seed`` (and Hydra's and the report's own
keys). Only completed jobs enter the statistics; failed and diverged jobs are
counted and listed in the notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from lossbench.report.collect import Results, parse_override
from lossbench.report.stats import TEST_NAME, compare, describe, greater_is_better

DEFAULT_METRIC = {"classification": "balanced_accuracy", "regression": "mse", "forecast": "mse"}
DEFAULT_BASELINE = {"classification": "ce", "regression": "mse", "forecast": "mse"}


@dataclass
class Options:
    """What to compare: ``report.*`` in the config, or ``lossbench report`` flags."""

    metric: str = "auto"  # auto: balanced_accuracy (classification) / mse (otherwise)
    baseline: str = "auto"  # auto: ce / mse by task; a loss name; or KEY=VALUE
    alpha: float = 0.05  # significance level of the paired test
    plots: bool = True


@dataclass
class Summary:
    """One row per configuration, plus the notes every table must show."""

    df: pd.DataFrame
    metrics: list[str]
    notes: list[str] = field(default_factory=list)


def metric_for(task: str, options: Options, available: list[str]) -> str:
    """The headline metric of a group: the chosen one, else the task's default."""
    if options.metric != "auto":
        if options.metric not in available:
            raise ValueError(
                f"report.metric={options.metric} is not in the results; "
                f"choose from: {', '.join(available)}"
            )
        return options.metric
    default = DEFAULT_METRIC.get(task or "", "")
    if default in available or not available:
        return default if default in available else ""
    return available[0]


def _baseline_spec(task: str, options: Options) -> tuple[str, str]:
    """(column, value) that marks baseline rows: ``loss=ce`` or a user's ``KEY=VALUE``."""
    spec = options.baseline
    if spec == "auto":
        return "loss", DEFAULT_BASELINE.get(task or "", "ce")
    if "=" in spec:
        return parse_override(spec)
    return "loss", spec


def _label(row: pd.Series, varying: list[str]) -> str:
    """``focal loss.gamma=2``: the loss by its name, other varying keys as key=value."""
    parts = [row["loss"]] if "loss" in varying or not varying else []
    parts += [f"{k}={row[k]}" for k in varying if k != "loss" and row[k] != ""]
    return " ".join(parts) or str(row["loss"])


def summarize(results: Results, options: Options) -> Summary:
    """Mean, std, 95% CI and n of every metric per group; headline metric vs baseline."""
    df, keys = results.df, results.group_keys
    groups = df.groupby(keys, sort=False, dropna=False)
    first = groups.head(1)[keys].reset_index(drop=True)
    varying = [k for k in keys if first[k].nunique() > 1]
    notes: list[str] = []
    rows = []
    known = df.dropna(subset=["task"])
    task_of = dict(zip(known["dataset"], known["task"], strict=True))
    for gkey, g in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        row = dict(zip(keys, gkey, strict=True))
        ok = g[g["status"] == "completed"]
        task = task_of.get(row["dataset"], "")  # also for groups that failed before loading data
        row.update(config=_label(pd.Series(row), varying), task=task)
        row.update(n_jobs=len(g), n=len(ok), excluded=len(g) - len(ok))
        for _, bad in g[g["status"] != "completed"].iterrows():
            error = f": {bad['error']}" if isinstance(bad["error"], str) else ""
            notes.append(
                f"excluded from statistics: {row['config']} seed {bad['seed']} "
                f"({bad['job']}) {bad['status']}{error}"
            )
        for m in results.metrics:
            d = describe(ok[m].to_numpy(dtype=float))
            row.update({f"{m}_mean": d.mean, f"{m}_std": d.std, f"{m}_ci95": d.ci95, f"{m}_n": d.n})
        rows.append(row)
    out = pd.DataFrame(rows)
    _compare_with_baselines(out, results, options, notes)
    return Summary(out, results.metrics, notes)


def _compare_with_baselines(
    out: pd.DataFrame, results: Results, options: Options, notes: list[str]
) -> None:
    df, keys = results.df, results.group_keys
    ok = df[df["status"] == "completed"]
    metric_col, base_col, cols = [], [], {"delta": [], "p_value": [], "n_pairs": [], "verdict": []}
    missing: set[str] = set()
    for _, row in out.iterrows():
        metric = metric_for(row["task"], options, results.metrics)
        key, value = _baseline_spec(row["task"], options)
        if key not in out.columns:
            raise ValueError(
                f"report.baseline={options.baseline}: no column {key!r}; "
                f"choose a loss name or KEY=VALUE with KEY in: {', '.join(keys)}"
            )
        # Axis of the comparison: the baseline key (and, for a loss, its parameters).
        axis = {key} | ({k for k in keys if k.startswith("loss.")} if key == "loss" else set())
        match = [k for k in keys if k not in axis]
        base = out[(out[key] == value) & (out[match] == row[match]).all(axis=1)]
        metric_col.append(metric)
        if base.empty:
            missing.add(f"{key}={value} for {row['dataset']}")
            base_col.append("")
            for c in cols:
                cols[c].append(math.nan if c != "verdict" else "no baseline")
            continue
        b = base.iloc[0]
        base_col.append(b["config"])
        if not metric:  # every job failed: nothing to compare
            for c, v in zip(cols, (math.nan, math.nan, math.nan, "no metrics"), strict=True):
                cols[c].append(v)
            continue
        if (row[keys] == b[keys]).all():
            for c, v in zip(cols, (math.nan, math.nan, math.nan, "baseline"), strict=True):
                cols[c].append(v)
            continue
        mine = _by_seed(ok, keys, row, metric)
        theirs = _by_seed(ok, keys, b, metric)
        c = compare(mine, theirs, metric, options.alpha)
        for name, v in zip(cols, (c.delta, c.p_value, c.n_pairs, c.verdict), strict=True):
            cols[name].append(v)
    out["metric"] = metric_col
    out["baseline"] = base_col
    for name, values in cols.items():
        out[name] = values
    out["n_pairs"] = pd.array(
        [None if math.isnan(v) else int(v) for v in cols["n_pairs"]], dtype="Int64"
    )
    for m in sorted(missing):
        notes.append(f"no baseline run ({m}): differences and tests left empty")
    if (out["verdict"].astype(str).str.startswith("no test")).any():
        notes.append(
            "no test was possible where fewer than 3 seeds completed for both the "
            "configuration and its baseline"
        )


def _by_seed(ok: pd.DataFrame, keys: list[str], row: pd.Series, metric: str) -> dict[int, float]:
    g = ok[(ok[keys] == row[keys]).all(axis=1)]
    return {int(s): float(v) for s, v in zip(g["seed"], g[metric], strict=True)}


def describe_method(options: Options) -> str:
    """One paragraph that says exactly how the summary was computed."""
    return (
        "Mean ± sample std over seeds (completed jobs only); 95% CI = Student-t half-width "
        "of the mean. Δ = mean over seeds of (configuration − baseline), paired by seed; "
        f"p from a {TEST_NAME} on the same pairs, α = {options.alpha:g}, no correction for "
        "multiple comparisons. ▲ significant win, ▼ significant loss (in the metric's "
        "better direction); fewer than 3 paired seeds: no test."
    )


def direction(metric: str) -> str:
    return "higher is better" if greater_is_better(metric) else "lower is better"
