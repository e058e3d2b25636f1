"""Statistics of one configuration against its baseline: describe, pair, test, correct, power.

Replicates. A job is one (data split, training seed): ``split`` is the
``dataset.seed`` that drew its train/validation/test split, ``seed`` the model
initialisation and batch order. Two configurations run on the same (split, seed)
form a pair; a paired test on the differences removes the shared part of the noise.

Which unit is tested (:func:`paired_differences`). With one split the test runs on
the per-seed differences, and it covers training noise only: a verdict says nothing
about another draw of the data. With two or more splits it runs on the per-split
means of the paired differences (n = number of splits). Seeds nested in a split
share its data and are not independent replicates of the data variation, which on
the long-tailed sets here is about twice the seed variation (so a test over
``splits x seeds`` pooled as independent pairs would be anticonservative). The mean
over a split's seeds is the summary measure of a two-level nested design: when every
split has the same seeds, a paired t-test on those means is the mixed model's test of
the configuration effect (random split and split x configuration effects; its error
term is the split x configuration mean square, t^2 = F), without estimating variance
components from 3-5 splits (Murtaugh 2007, "Simplicity and complexity in ecological
data analysis", Ecology 88).

Multiple comparisons: :func:`holm` (Holm 1979) over a family of p-values. Power:
:func:`min_detectable_effect` solves the noncentral-t power of a two-sided paired
t-test for the effect that is detected with 80% probability (the computation of
``statsmodels.stats.power.TTestPower.solve_power``, done with scipy here so the report
does not import statsmodels). Effect size: Cohen's d_z = mean / sd of the paired
differences (Cohen 1988; Lakens 2013), not bias-corrected; at n = 5 it overstates
the population value by about 1/J = 1.25 (Hedges' J = 1 - 3/(4(n-1) - 1)).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from lossbench.evaluation.registry import greater_is_better

TESTS = {
    "t": "paired t-test (two-sided, scipy.stats.ttest_rel)",
    "wilcoxon": "Wilcoxon signed-rank test (two-sided, scipy.stats.wilcoxon, exact for small n)",
}
CORRECTIONS = ("holm", "none")
TEST_NAME = TESTS["t"]
MIN_PAIRS = 3
POWER = 0.8
# Asymptotic relative efficiency of the signed-rank test to the t-test under normal
# differences (Hodges & Lehmann 1956): its power at n pairs is about the t-test's at 3n/pi.
WILCOXON_ARE = 3 / math.pi


@dataclass
class Describe:
    mean: float
    std: float
    ci95: float  # half-width of the 95% confidence interval of the mean
    n: int


def describe(values: np.ndarray | Sequence[float]) -> Describe:
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


def ci95_of_units(values: Mapping[tuple[Hashable, int], float]) -> tuple[float, int]:
    """95% CI half-width of the mean and the number of units, with the unit of
    :func:`paired_differences`: the split when there are several, else the seed."""
    keys = [k for k, v in values.items() if np.isfinite(v)]
    splits = {k[0] for k in keys}
    if len(splits) < 2:
        d = describe([values[k] for k in keys])
        return d.ci95, d.n
    means = [float(np.mean([values[k] for k in keys if k[0] == s])) for s in splits]
    d = describe(means)
    return d.ci95, d.n


@dataclass
class Paired:
    """Differences (configuration - baseline) per replicate unit."""

    diffs: np.ndarray
    unit: str  # "split" or "seed"
    n_splits: int
    n_seeds: int  # paired seeds (per split, the most of any split)

    @property
    def tested_over(self) -> str:
        """The replicates behind a test on these differences: ``3 splits x 5 seeds`` (data and
        training variation) or ``5 seeds of one split`` (training noise only)."""
        if self.unit == "split":
            return f"{self.n_splits} splits x {self.n_seeds} seeds"
        return f"{self.n_seeds} seeds of one split"


def _key(k: Hashable) -> tuple[Hashable, Hashable]:
    """(split, seed) from a key that is either that tuple or a bare seed (one split)."""
    return k if isinstance(k, tuple) else (None, k)  # type: ignore[return-value]


def paired_differences(values: Mapping[Hashable, float], baseline: Mapping[Hashable, float]):
    """Pair by (split, seed) and return :class:`Paired` differences; the unit is the split
    when two or more splits have pairs (their per-split mean difference), else the seed.

    Keys are (split, seed) tuples or bare seeds (then all belong to one split).
    """
    mine = {_key(k): float(v) for k, v in values.items()}
    theirs = {_key(k): float(v) for k, v in baseline.items()}
    common = [k for k in mine if k in theirs and np.isfinite(mine[k]) and np.isfinite(theirs[k])]
    common.sort(key=lambda k: (str(k[0]), str(k[1])))
    by_split: dict[Hashable, list[float]] = {}
    for k in common:
        by_split.setdefault(k[0], []).append(mine[k] - theirs[k])
    n_seeds = max((len(v) for v in by_split.values()), default=0)
    if len(by_split) >= 2:
        diffs = np.array([np.mean(v) for v in by_split.values()], dtype=float)
        return Paired(diffs, "split", len(by_split), n_seeds)
    diffs = np.array([d for v in by_split.values() for d in v], dtype=float)
    return Paired(diffs, "seed", len(by_split), n_seeds)


def paired_p_value(diffs: np.ndarray, test: str = "t") -> float:
    """Two-sided p of the paired differences: t-test (= ``ttest_rel``) or signed-rank test."""
    if test == "t":
        return float(stats.ttest_1samp(diffs, 0.0).pvalue)
    if test == "wilcoxon":
        if not np.any(diffs != 0):
            return math.nan
        return float(stats.wilcoxon(diffs).pvalue)
    raise ValueError(f"report.test={test}: choose one of {', '.join(TESTS)}")


def effect_size_dz(diffs: np.ndarray) -> float:
    """Cohen's d_z: mean / sample sd of the paired differences (nan if undefined)."""
    if diffs.size < 2:
        return math.nan
    sd = float(diffs.std(ddof=1))
    return float(diffs.mean()) / sd if sd > 0 else math.nan


def t_power(d: float, nobs: float, alpha: float) -> float:
    """Power of a two-sided one-sample (paired) t-test at standardized effect ``d``:
    P(|T| > t_{1-alpha/2, n-1}) with T ~ noncentral t(n - 1, d sqrt(n))."""
    df = nobs - 1
    crit = stats.t.isf(alpha / 2, df)
    nc = d * math.sqrt(nobs)
    # scipy.special's noncentral-t CDF, as statsmodels uses. The lower tail is negligible
    # for d > 0 (< 1e-15 where nctdtr returns NaN in it): counted as 0 then.
    lower = float(special.nctdtr(df, nc, -crit))
    return float(1 - special.nctdtr(df, nc, crit)) + (lower if math.isfinite(lower) else 0.0)


def detectable_d(nobs: float, alpha: float, power: float = POWER) -> float:
    """Standardized effect d with ``t_power(d, nobs, alpha) = power`` (as
    ``TTestPower().solve_power(nobs=nobs, alpha=alpha, power=power)``)."""
    if nobs <= 1:
        return math.nan
    hi = 1.0
    while t_power(hi, nobs, alpha) < power:
        hi *= 2
        if hi > 1e6:
            return math.inf
    return float(optimize.brentq(lambda d: t_power(d, nobs, alpha) - power, 0.0, hi, xtol=1e-10))


def min_detectable_effect(
    sd_diff: float, n: int, alpha: float, test: str = "t", power: float = POWER
) -> float:
    """The smallest |Δ| the paired test detects with probability ``power`` at level
    ``alpha`` with ``n`` units: d * sd of the differences.

    Signed-rank test: the t-test's d at 3n/pi pairs (its asymptotic relative efficiency);
    infinite when even the most extreme signs cannot reach ``alpha`` (exact two-sided
    p >= 2 / 2^n, so n <= 5 never reaches 0.05).
    """
    if n < 2 or not np.isfinite(sd_diff):
        return math.nan
    if test == "wilcoxon":
        if 2.0 / 2.0**n > alpha:
            return math.inf
        return detectable_d(n * WILCOXON_ARE, alpha, power) * sd_diff
    return detectable_d(n, alpha, power) * sd_diff


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979): the i-th smallest of m is multiplied
    by (m - i + 1), then made monotone by a running maximum and capped at 1. NaN entries
    (no test) stay NaN and do not count in m. Controls the family-wise error rate."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    adjusted = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(adjusted, 1.0)
    return out


@dataclass
class Comparison:
    """A configuration against its baseline on one metric, paired by (split, seed)."""

    delta: float  # mean of the paired differences (config - baseline) over units
    p_value: float  # nan when no test was possible
    n_pairs: int  # tested units: splits or seeds
    verdict: str  # win | loss | n.s. | no test: <reason>
    unit: str = "seed"
    sd_diff: float = math.nan
    d_z: float = math.nan
    tested_over: str = ""  # Paired.tested_over

    @property
    def tested(self) -> bool:
        return math.isfinite(self.p_value)


def verdict(delta: float, p: float, metric: str, alpha: float) -> str:
    """``win``/``loss`` when p < alpha (in the metric's better/worse direction), else n.s."""
    if p >= alpha:
        return "n.s."
    better = delta > 0 if greater_is_better(metric) else delta < 0
    return "win" if better else "loss"


def compare(
    values: Mapping[Hashable, float],
    baseline: Mapping[Hashable, float],
    metric: str,
    alpha: float,
    test: str = "t",
) -> Comparison:
    """Paired test of ``values`` against ``baseline`` (keyed by seed or (split, seed)).

    The verdict here is that of a single comparison (raw p); :func:`holm` over a family
    and :func:`verdict` give the corrected one. Fewer than 3 units, or identical
    differences on every unit (zero variance), allow no test.
    """
    pr = paired_differences(values, baseline)
    diff, n = pr.diffs, int(pr.diffs.size)
    delta = float(diff.mean()) if n else math.nan
    base = dict(unit=pr.unit, tested_over=pr.tested_over)
    if n < MIN_PAIRS:
        what = "split" if pr.unit == "split" else "paired seed"
        return Comparison(delta, math.nan, n, f"no test: {n} {what}(s) < {MIN_PAIRS}", **base)
    sd = float(diff.std(ddof=1))
    if np.allclose(diff, diff[0], rtol=0.0, atol=1e-15):
        reason = "identical on every seed" if diff[0] == 0 else "zero variance of differences"
        if pr.unit == "split":
            reason = reason.replace("seed", "split")
        return Comparison(delta, math.nan, n, f"no test: {reason}", sd_diff=sd, **base)
    p = paired_p_value(diff, test)
    if not math.isfinite(p):
        return Comparison(delta, p, n, "no test: no nonzero difference", sd_diff=sd, **base)
    return Comparison(
        delta, p, n, verdict(delta, p, metric, alpha), sd_diff=sd, d_z=effect_size_dz(diff), **base
    )
