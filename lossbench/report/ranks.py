"""Comparing k configurations over N datasets by ranks (Demšar 2006; Benavoli et al. 2016).

- :func:`rank_rows`: per dataset, rank 1 = best mean in the metric's better direction;
  ties share the average rank.
- :func:`friedman`: Friedman's chi^2_F = 12N/(k(k+1)) [sum_j R_j^2 - k(k+1)^2/4] on the
  mean ranks R_j, divided by the tie correction 1 - sum(t^3 - t)/(N k (k^2 - 1)) when a
  dataset has tied ranks (as ``scipy.stats.friedmanchisquare``); p from chi^2 with k-1
  degrees of freedom. Iman & Davenport's F_F = (N-1) chi^2_F / (N(k-1) - chi^2_F), with
  (k-1, (k-1)(N-1)) degrees of freedom, is less conservative (Demšar 2006, sec. 3.2.2).
- :func:`nemenyi_cd`: CD = q_alpha sqrt(k(k+1)/(6N)), q_alpha the studentized range
  quantile over sqrt(2) (Demšar's table: 2.343 for k = 3 at alpha = 0.05).
- :func:`pairwise_wilcoxon`: the post-hoc of Benavoli, Corani & Mangili 2016 (JMLR 17):
  a Wilcoxon signed-rank test of each pair over the datasets, Holm-corrected over the
  k(k-1)/2 pairs. Unlike mean-rank tests, whether A beats B does not depend on which
  other configurations are in the comparison.
- :func:`cliques`: maximal runs of configurations (in mean-rank order) no two of which
  differ significantly: the bars of a critical-difference diagram.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats

from lossbench.report.stats import holm

MIN_DATASETS_FOR_VERDICT = 5


def rank_rows(scores: np.ndarray) -> np.ndarray:
    """Ranks per row of ``scores`` [N datasets, k configs], where greater is better:
    1 = best, ties get the average rank (``scipy.stats.rankdata(method='average')``)."""
    return np.vstack([stats.rankdata(-row, method="average") for row in np.atleast_2d(scores)])


@dataclass
class Friedman:
    k: int
    n: int
    chi2: float
    p_chi2: float
    f: float  # Iman-Davenport
    p_f: float
    df1: int
    df2: int


def friedman(ranks: np.ndarray) -> Friedman:
    """Friedman and Iman-Davenport statistics from per-dataset ranks [N, k]."""
    n, k = ranks.shape
    mean_ranks = ranks.mean(axis=0)
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(mean_ranks**2) - k * (k + 1) ** 2 / 4)
    ties = 0.0
    for row in ranks:
        _, counts = np.unique(row, return_counts=True)
        ties += float(np.sum(counts**3 - counts))
    correction = 1 - ties / (n * k * (k * k - 1))
    chi2 = float(chi2 / correction) if correction > 0 else math.nan
    p_chi2 = float(stats.chi2.sf(chi2, k - 1)) if k > 1 else math.nan
    df1, df2 = k - 1, (k - 1) * (n - 1)
    denom = n * (k - 1) - chi2
    if df2 <= 0 or not math.isfinite(chi2):
        f, p_f = math.nan, math.nan
    elif denom <= 0:  # identical rankings on every dataset: F is infinite
        f, p_f = math.inf, 0.0
    else:
        f = (n - 1) * chi2 / denom
        p_f = float(stats.f.sf(f, df1, df2))
    return Friedman(k, n, chi2, p_chi2, float(f), p_f, df1, df2)


def q_alpha(k: int, alpha: float = 0.05) -> float:
    """Critical value of the two-tailed Nemenyi test: studentized range (k, inf) / sqrt(2)."""
    if k < 2:
        return math.nan
    return float(stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical difference of mean ranks for k configurations over n datasets."""
    return q_alpha(k, alpha) * math.sqrt(k * (k + 1) / (6 * n))


@dataclass
class PairTest:
    a: int
    b: int
    p: float  # Wilcoxon signed-rank over datasets (nan: identical everywhere)
    p_holm: float


def pairwise_wilcoxon(scores: np.ndarray) -> list[PairTest]:
    """Every pair of columns of ``scores`` [N, k]: signed-rank p over the N datasets and
    Holm's adjustment over all pairs. Identical scores on every dataset: p = 1."""
    pairs = list(combinations(range(scores.shape[1]), 2))
    p = []
    for a, b in pairs:
        d = scores[:, a] - scores[:, b]
        p.append(float(stats.wilcoxon(d).pvalue) if np.any(d != 0) else 1.0)
    adjusted = holm(p)
    return [PairTest(a, b, pa, ph) for (a, b), pa, ph in zip(pairs, p, adjusted, strict=True)]


def cliques(order: list[int], different: set[frozenset[int]]) -> list[list[int]]:
    """Maximal runs of consecutive configurations in ``order`` (best first) with no
    significantly different pair inside; runs of one are left out."""
    runs: list[tuple[int, int]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and all(
            frozenset((order[m], order[j + 1])) not in different for m in range(i, j + 1)
        ):
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in runs):
            runs.append((i, j))
    return [order[a : b + 1] for a, b in runs]
