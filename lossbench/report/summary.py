"""Group jobs over replicates and compare every configuration with its baseline on every metric.

A group (a configuration) is every job with the same dataset/model/loss/optimizer and
the same values of every other override except the replicate axes ``seed`` and
``split`` (= ``dataset.seed``) (and Hydra's and the report's own keys). Only
completed jobs enter the statistics; failed and diverged jobs are counted and listed
in the notes.

A *problem* is a dataset with its ``dataset.*`` options (``longtail_digits
dataset.imbalance_ratio=100``): one table each, and the unit of the cross-dataset
leaderboard. The *family* of Holm's correction is every comparison with a baseline on
the same problem and metric (for the headline metric of a preset with 7 losses and ce:
the 7 comparisons with ce).

Post-hoc logit adjustment (``eval.posthoc_tau`` > 0; Menon et al. 2021) is a method
row: ``ce + post-hoc τ=1`` is compared with the baseline loss without it (``ce``), like
any other loss. So are the other methods applied around a loss (:data:`METHOD_KEYS`):
re-sampling (``sampler``, Buda et al. 2018; ``ce + class_balanced sampling``), decoupled
classifier re-training (``trainer.crt_epochs`` > 0, ``+ cRT``) and τ-normalised
classifier weights (``eval.tau_norm`` > 0; Kang et al. 2020): the baseline row is the
baseline loss without any of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lossbench.evaluation.registry import (
    METRICS,
    default_metric,
    direction,
    greater_is_better,
    is_test_metric,
)
from lossbench.report.collect import Results, parse_override
from lossbench.report.stats import (
    CORRECTIONS,
    TESTS,
    Comparison,
    ci95_of_units,
    compare,
    describe,
    holm,
    min_detectable_effect,
    verdict,
)

DEFAULT_BASELINE = {"classification": "ce", "regression": "mse", "forecast": "mse"}
POSTHOC_KEY = "eval.posthoc_tau"
SAMPLER_KEY = "sampler"
CRT_KEYS = ("trainer.crt_epochs", "trainer.crt_sampler")
TAU_NORM_KEY = "eval.tau_norm"
# Methods applied around a loss: a baseline row has each at its neutral value (absent = it).
METHOD_KEYS = (POSTHOC_KEY, SAMPLER_KEY, *CRT_KEYS, TAU_NORM_KEY)

__all__ = ["Options", "Summary", "describe_method", "direction", "summarize"]


@dataclass
class Options:
    """What to compare: ``report.*`` in the config, or ``lossbench report`` flags."""

    metric: str = "auto"  # auto: balanced_accuracy (classification) / mse (otherwise)
    baseline: str = "auto"  # auto: ce / mse by task; a loss name; or KEY=VALUE
    alpha: float = 0.05  # significance level, after the correction
    test: str = "t"  # t | wilcoxon: the paired test
    correction: str = "holm"  # holm | none: over each family (problem x metric)
    plots: bool = True

    def validate(self) -> None:
        """Raise ValueError with one line naming the key and the fix."""
        if self.metric != "auto" and not is_test_metric(str(self.metric)):
            raise ValueError(
                f"report.metric={self.metric} is not a metric lossbench reports; choose auto "
                f"or one of: {', '.join(n for n in METRICS if n != 'loss')}, recall_class_<c>"
            )
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, int | float) or not 0 < a < 1:
            raise ValueError(f"report.alpha={a} must be a number in (0, 1), e.g. 0.05")
        if self.test not in TESTS:
            raise ValueError(f"report.test={self.test}: choose one of {', '.join(TESTS)}")
        if self.correction not in CORRECTIONS:
            raise ValueError(
                f"report.correction={self.correction}: choose one of {', '.join(CORRECTIONS)}"
            )


@dataclass
class Summary:
    """``df``: one row per configuration (every metric's mean/std/CI/n and the headline
    comparison); ``long``: one row per configuration x metric (``summary.csv``)."""

    df: pd.DataFrame
    metrics: list[str]
    notes: list[str] = field(default_factory=list)
    long: pd.DataFrame = field(default_factory=pd.DataFrame)
    options: Options = field(default_factory=Options)
    leaderboard: Any = None  # lossbench.report.leaderboard.Leaderboard when >= 2 problems


def metric_for(task: str, options: Options, available: list[str]) -> str:
    """The headline metric of a group: the chosen one, else the task's default."""
    if options.metric != "auto":
        if options.metric not in available:
            raise ValueError(
                f"report.metric={options.metric} is not in the results; "
                f"choose from: {', '.join(available)}"
            )
        return options.metric
    default = default_metric(task or "")
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


def _float(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _same(key: str, a: str, b: str) -> bool:
    """Equal override values: the same text, the same number (``1`` and ``1.0``), or for
    ``eval.posthoc_tau`` both plain (absent and 0 are the default: no adjustment)."""
    if key in (POSTHOC_KEY, TAU_NORM_KEY, CRT_KEYS[0]):
        return (_float(a or "0") or 0.0) == (_float(b or "0") or 0.0)
    if a == b:
        return True
    fa, fb = _float(a), _float(b)
    return fa is not None and fa == fb


def _posthoc(value: str) -> float:
    return _float(value or "0") or 0.0


def _neutral(key: str, value: str) -> bool:
    """True when method key ``key`` holds its default (the method is off)."""
    if key == SAMPLER_KEY:
        return value in ("", "none")
    if key == CRT_KEYS[1]:
        return True  # the cRT sampler matters only with trainer.crt_epochs > 0
    return _posthoc(value) == 0


def _method_part(key: str, value: str, row: pd.Series) -> str | None:
    """The label part of a method key (None: nothing to show)."""
    if key == POSTHOC_KEY:
        return f"+ post-hoc τ={_posthoc(value):g}" if not _neutral(key, value) else None
    if key == SAMPLER_KEY:
        return f"+ {value} sampling" if not _neutral(key, value) else None
    if key == CRT_KEYS[0]:
        if _neutral(key, value):
            return None
        sampler = str(row.get(CRT_KEYS[1], "") or "")
        extra = f", {sampler}" if sampler and sampler != "class_balanced" else ""
        return f"+ cRT ({_posthoc(value):g} ep{extra})"
    if key == CRT_KEYS[1]:
        return None
    if key == TAU_NORM_KEY:
        return f"+ τ-norm τ={_posthoc(value):g}" if not _neutral(key, value) else None
    return None


def _label(row: pd.Series, varying: list[str]) -> str:
    """``focal loss.gamma=2``, ``ce + post-hoc τ=1``: the loss by name, other varying keys
    as key=value (the problem's keys are the table's title, not part of the label)."""
    show_loss = "loss" in varying or any(k in varying for k in METHOD_KEYS) or not varying
    parts = [str(row["loss"])] if show_loss else []
    for k in varying:
        if k == "loss" or row[k] == "":
            continue
        if k in METHOD_KEYS:
            part = _method_part(k, str(row[k]), row)
            if part:
                parts.append(part)
            continue
        parts.append(f"{k}={row[k]}")
    return " ".join(parts) or str(row["loss"])


def problem_keys(keys: list[str]) -> list[str]:
    """The keys that name a problem: the dataset and its options (``dataset.*``)."""
    return [k for k in keys if k == "dataset" or k.startswith("dataset.")]


def _replicate(split: Any, seed: Any) -> tuple[Hashable, int]:
    return (None if pd.isna(split) else int(split), int(seed))


def summarize(results: Results, options: Options) -> Summary:
    """Every metric's mean, std, 95% CI and n per configuration, and its comparison with
    the baseline (Δ, p, Holm-adjusted p, d_z, MDE, verdict)."""
    options.validate()
    df, keys = results.df, results.group_keys
    groups = df.groupby(keys, sort=False, dropna=False)
    first = groups.head(1)[keys].reset_index(drop=True)
    pkeys = problem_keys(keys)
    varying = [k for k in keys if first[k].nunique() > 1]
    label_keys = [k for k in varying if k not in pkeys]
    problem_varying = [k for k in varying if k in pkeys and k != "dataset"]
    notes: list[str] = []
    rows, values = [], []
    known = df.dropna(subset=["task"])
    task_of = dict(zip(known["dataset"], known["task"], strict=True))
    for gkey, g in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        row: dict[str, Any] = dict(zip(keys, gkey, strict=True))
        ok = g[g["status"] == "completed"]
        task = task_of.get(row["dataset"], "")  # also for groups that failed before loading data
        problem = " ".join(
            [str(row["dataset"]), *(f"{k}={row[k]}" for k in problem_varying if row[k] != "")]
        )
        row.update(problem=problem, config=_label(pd.Series(row), label_keys), task=task)
        row.update(n_jobs=len(g), n=len(ok), excluded=len(g) - len(ok))
        row["n_splits"] = int(ok["split"].nunique(dropna=False)) if len(ok) else 0
        for _, bad in g[g["status"] != "completed"].iterrows():
            error = f": {bad['error']}" if isinstance(bad["error"], str) else ""
            where = "" if pd.isna(bad["split"]) else f"split {bad['split']} "
            notes.append(
                f"excluded from statistics: {row['config']} {where}seed {bad['seed']} "
                f"({bad['job']}) {bad['status']}{error}"
            )
        reps = [_replicate(sp, se) for sp, se in zip(ok["split"], ok["seed"], strict=True)]
        per_metric = {}
        for m in results.metrics:
            by_rep = {r: float(v) for r, v in zip(reps, ok[m].to_numpy(dtype=float), strict=True)}
            per_metric[m] = by_rep
            d = describe(ok[m].to_numpy(dtype=float))
            ci, _ = ci95_of_units(by_rep)
            row.update({f"{m}_mean": d.mean, f"{m}_std": d.std, f"{m}_ci95": ci, f"{m}_n": d.n})
        rows.append(row)
        values.append(per_metric)
    out = pd.DataFrame(rows)
    if out.empty:
        return Summary(out, results.metrics, notes, options=options)
    long = _compare_with_baselines(out, values, results, options, notes)
    _warning_notes(out, results, notes)
    return Summary(out, results.metrics, notes, long, options)


def _baseline_index(out: pd.DataFrame, i: int, keys: list[str], options: Options) -> int | None:
    """The row of ``out`` that row ``i`` is compared with (itself if it is a baseline)."""
    row = out.iloc[i]
    key, value = _baseline_spec(row["task"], options)
    if key not in out.columns:
        raise ValueError(
            f"report.baseline={options.baseline}: no column {key!r}; "
            f"choose a loss name or KEY=VALUE with KEY in: {', '.join(keys)}"
        )
    # Axis of the comparison: the baseline key; for a loss also its parameters and the
    # post-hoc adjustment (a method applied on top of the loss).
    axis = {key}
    if key == "loss":
        axis |= {k for k in keys if k.startswith("loss.")} | set(METHOD_KEYS)
    match = [k for k in keys if k not in axis]
    same_rest = (out[match] == row[match]).all(axis=1) if match else pd.Series(True, out.index)
    is_base = out[key].map(lambda v: _same(key, str(v), str(value)))
    if key == "loss":
        for method in METHOD_KEYS:
            if method in out.columns:
                is_base &= out[method].map(lambda v, m=method: _neutral(m, str(v)))
    found = np.flatnonzero((is_base & same_rest).to_numpy())
    return int(found[0]) if found.size else None


# The comparison with the baseline, per configuration and metric.
COMPARISON_COLUMNS = [
    "baseline",
    "unit",
    "tested_over",
    "n_pairs",
    "delta",
    "p_value",
    "p_holm",
    "family_size",
    "d_z",
    "mde",
    "verdict",
]
LONG_STATS = [
    "metric",
    "headline",
    "direction",
    "n",
    "excluded",
    "n_splits",
    "mean",
    "std",
    "ci95",
    *COMPARISON_COLUMNS,
]
HEADLINE_COLUMNS = ["metric", *COMPARISON_COLUMNS]


def _compare_with_baselines(
    out: pd.DataFrame,
    values: list[dict[str, dict]],
    results: Results,
    options: Options,
    notes: list[str],
) -> pd.DataFrame:
    """Fill the headline comparison columns of ``out``; return the long table."""
    keys = results.group_keys
    headline = [metric_for(t, options, results.metrics) for t in out["task"]]
    bases = [_baseline_index(out, i, keys, options) for i in range(len(out))]
    missing = sorted(
        {
            f"{_baseline_spec(out['task'].iloc[i], options)[0]}="
            f"{_baseline_spec(out['task'].iloc[i], options)[1]} for {out['problem'].iloc[i]}"
            for i, b in enumerate(bases)
            if b is None
        }
    )
    long_rows: list[dict[str, Any]] = []
    for i, b in enumerate(bases):
        row = out.iloc[i]
        present = [m for m in results.metrics if _problem_has(out, row["problem"], m)]
        for m in present:
            entry: dict[str, Any] = {k: row[k] for k in ["problem", *keys, "config", "task"]}
            n_m = int(row[f"{m}_n"])
            entry.update(
                metric=m,
                headline=m == headline[i],
                direction="higher" if greater_is_better(m) else "lower",
                n=n_m,
                excluded=row["excluded"],
                n_splits=row["n_splits"] if n_m else 0,
                mean=row[f"{m}_mean"],
                std=row[f"{m}_std"],
                ci95=row[f"{m}_ci95"],
                baseline="" if b is None else out["config"].iloc[b],
            )
            entry.update(_comparison(i, b, m, values, options))
            long_rows.append(entry)
    long = pd.DataFrame(long_rows)
    if long.empty:
        for c in HEADLINE_COLUMNS:
            out[c] = _empty(c)
        out["metric"] = headline
        return long
    _correct(long, options)
    long = long.reindex(columns=["problem", *keys, "config", "task", *LONG_STATS])
    long["n_pairs"] = pd.array(
        [None if pd.isna(v) else int(v) for v in long["n_pairs"]], dtype="Int64"
    )
    long["family_size"] = pd.array(
        [None if pd.isna(v) else int(v) for v in long["family_size"]], dtype="Int64"
    )
    # The headline comparison of each configuration, into the wide table.
    at = {
        (p, c, m): j
        for j, (p, c, m) in enumerate(
            zip(long["problem"], long["config"], long["metric"], strict=True)
        )
    }
    head_rows = [
        long.iloc[at[key]] if key in at else None
        for key in zip(out["problem"], out["config"], headline, strict=True)
    ]
    for c in HEADLINE_COLUMNS:
        col = [
            (r[c] if r is not None else (headline[i] if c == "metric" else _empty(c)))
            for i, r in enumerate(head_rows)
        ]
        out[c] = col
    for c in ("n_pairs", "family_size"):
        out[c] = pd.array([None if pd.isna(v) else int(v) for v in out[c]], dtype="Int64")
    for m in missing:
        notes.append(f"no baseline run ({m}): differences and tests left empty")
    if out["verdict"].astype(str).str.startswith("no test").any():
        notes.append(
            "no test was possible where fewer than 3 units (seeds of one split, or splits) "
            "completed for both the configuration and its baseline"
        )
    if options.test == "wilcoxon" and (out["n_pairs"].fillna(99) <= 5).any():
        notes.append(
            "the exact Wilcoxon signed-rank test cannot reach p < 0.05 with 5 or fewer units "
            "(smallest two-sided p = 2/2^n): run more seeds or splits, or use report.test=t"
        )
    return long


def _empty(column: str) -> Any:
    return {"baseline": "", "unit": "", "tested_over": "", "verdict": "no baseline"}.get(
        column, math.nan
    )


def _problem_has(out: pd.DataFrame, problem: str, metric: str) -> bool:
    part = out[out["problem"] == problem]
    return bool(part[f"{metric}_n"].sum() > 0)


def _comparison(
    i: int, b: int | None, metric: str, values: list[dict[str, dict]], options: Options
) -> dict[str, Any]:
    """The comparison columns of row ``i`` against row ``b`` on ``metric`` (uncorrected)."""
    nan = math.nan
    empty = dict(unit="", tested_over="", n_pairs=nan, delta=nan, p_value=nan, d_z=nan, sd_diff=nan)
    if b is None:
        return {**empty, "verdict": "no baseline"}
    if i == b:
        return {**empty, "verdict": "baseline"}
    mine, theirs = values[i][metric], values[b][metric]
    if not mine:
        return {**empty, "verdict": "no metrics"}
    c: Comparison = compare(mine, theirs, metric, options.alpha, options.test)
    return dict(
        unit=c.unit,
        tested_over=c.tested_over,
        n_pairs=c.n_pairs,
        delta=c.delta,
        p_value=c.p_value,
        d_z=c.d_z,
        sd_diff=c.sd_diff,
        verdict=c.verdict,
    )


def _correct(long: pd.DataFrame, options: Options) -> None:
    """Holm over each family (problem, metric); verdicts from the adjusted p; MDE."""
    long["p_holm"] = math.nan
    long["family_size"] = math.nan
    long["mde"] = math.nan
    for _, fam in long.groupby(["problem", "metric"], sort=False):
        tested = fam.index[np.isfinite(fam["p_value"].to_numpy(dtype=float))]
        m = len(tested)
        if m == 0:
            continue
        long.loc[tested, "p_holm"] = holm(long.loc[tested, "p_value"].to_numpy(dtype=float))
        long.loc[tested, "family_size"] = m
        level = options.alpha / m if options.correction == "holm" else options.alpha
        for j in tested:
            r = long.loc[j]
            p = r["p_holm"] if options.correction == "holm" else r["p_value"]
            long.loc[j, "verdict"] = verdict(r["delta"], p, r["metric"], options.alpha)
            long.loc[j, "mde"] = min_detectable_effect(
                r["sd_diff"], int(r["n_pairs"]), level, options.test
            )


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def _warning_notes(out: pd.DataFrame, results: Results, notes: list[str]) -> None:
    """One note per configuration and kind of warning: how many of its jobs said it."""
    df, keys = results.df, results.group_keys
    if not any(results.warnings):
        return
    for _, row in out.iterrows():
        mask = (df[keys] == row[keys]).all(axis=1).to_numpy()
        idx = np.flatnonzero(mask)
        seen: dict[str, list[str]] = {}
        for j in idx:
            for w in results.warnings[j] if j < len(results.warnings) else []:
                seen.setdefault(_NUMBER.sub("#", w), []).append(w)
        n_splits = df["split"].iloc[idx].nunique(dropna=False)
        of = f"{len(idx)} seeds" if n_splits < 2 else f"{len(idx)} jobs ({n_splits} splits)"
        for texts in seen.values():
            text = texts[0] if len(set(texts)) == 1 else f"{texts[0]} (numbers vary by job)"
            notes.append(f"{len(texts)} of {of} of {row['config']}: {text}")


def describe_method(options: Options) -> str:
    """One paragraph that says exactly how the summary was computed."""
    test = TESTS[options.test]
    if options.correction == "holm":
        corr = (
            "p_holm: Holm's step-down adjustment (Holm 1979) over the family of all comparisons "
            "with the baseline on the same dataset and metric; the verdict uses p_holm "
            f"at α = {options.alpha:g} (raw p kept)"
        )
        mde_level = "α/m, the level Holm applies first in a family of m"
    else:
        corr = (
            f"no correction for multiple comparisons (report.correction=none); the verdict "
            f"uses the raw p at α = {options.alpha:g}"
        )
        mde_level = "α"
    return (
        "Mean ± sample std over completed jobs; 95% CI = Student-t half-width of the mean "
        "over the test unit. Jobs are paired with the baseline's by (data split, seed). The "
        "test unit is the seed when all jobs share one data split (the test covers training "
        "noise only) and the split when there are several (per-split means of the paired "
        "differences: seeds of one split are not independent replicates of the data). "
        f"Δ = mean over units of (configuration − baseline); p from a {test} on the same "
        f"units; {corr}. ▲ significant win, ▼ significant loss (in the metric's better "
        "direction). d_z = Cohen's effect size, mean / sd of the paired differences. "
        "MDE = the smallest |Δ| the test detects with 80% power at "
        f"{mde_level} (d × sd of the differences). Fewer than 3 units: no test."
    )
