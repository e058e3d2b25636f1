"""Statistics over seeds: mean, standard deviation, 95% confidence interval, paired test.

Seeds vary only model initialisation and mini-batch order (the data is fixed), so
two configurations run with the same seed form a pair; a paired test on the
per-seed differences removes the shared part of the noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

TEST_NAME = "paired t-test (two-sided, scipy.stats.ttest_rel)"
MIN_PAIRS = 3
# Name parts that mark an error-like metric (lower is better); every other metric
# (accuracy, recall, F1, AUC, ...) is better when greater.
_LOWER_IS_BETTER = {
    "mse",
    "rmse",
    "mae",
    "mape",
    "smape",
    "loss",
    "error",
    "nll",
    "ece",
    "brier",
    "dtw",
    "tdi",
    "pinball",
    "crps",
}


def greater_is_better(metric: str) -> bool:
    """Direction of ``metric``, from its name (``mae_few`` and ``val_loss`` are errors)."""
    return not any(part in _LOWER_IS_BETTER for part in metric.lower().split("_"))


@dataclass
class Describe:
    mean: float
    std: float
    ci95: float  # half-width of the 95% confidence interval of the mean
    n: int


def describe(values: np.ndarray) -> Describe:
    """Mean, sample std (ddof=1) and Student-t 95% CI half-width of finite ``values``."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Describe(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Describe(mean, math.nan, math.nan, 1)
    std = float(x.std(ddof=1))
    ci = float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))
    return Describe(mean, std, ci, n)


@dataclass
class Comparison:
    """A configuration against its baseline on one metric, paired by seed."""

    delta: float  # mean over paired seeds of (config - baseline)
    p_value: float  # nan when no test was possible
    n_pairs: int
    verdict: str  # win | loss | n.s. | no test: <reason>


def compare(
    values: Mapping[int, float], baseline: Mapping[int, float], metric: str, alpha: float
) -> Comparison:
    """Paired t-test of ``values`` against ``baseline`` (both keyed by seed).

    A significant difference (p < ``alpha``) in the metric's better direction is a
    ``win``, in the other direction a ``loss``. Fewer than 3 paired seeds, or
    identical differences on every seed (zero variance), allow no test.
    """
    pairs = np.array(
        [(values[s], baseline[s]) for s in sorted(set(values) & set(baseline))], dtype=float
    ).reshape(-1, 2)
    pairs = pairs[np.isfinite(pairs).all(axis=1)]
    diff = pairs[:, 0] - pairs[:, 1]
    n = int(diff.size)
    delta = float(diff.mean()) if n else math.nan
    if n < MIN_PAIRS:
        return Comparison(delta, math.nan, n, f"no test: {n} paired seed(s) < {MIN_PAIRS}")
    if np.allclose(diff, diff[0], rtol=0.0, atol=1e-15):
        if diff[0] == 0:
            return Comparison(delta, math.nan, n, "no test: identical on every seed")
        return Comparison(delta, math.nan, n, "no test: zero variance of differences")
    p = float(stats.ttest_rel(pairs[:, 0], pairs[:, 1]).pvalue)
    if p >= alpha:
        return Comparison(delta, p, n, "n.s.")
    better = delta > 0 if greater_is_better(metric) else delta < 0
    return Comparison(delta, p, n, "win" if better else "loss")
