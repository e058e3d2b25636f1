"""Class-count profiles and the many / medium / few grouping of classes and target regions.

The exponential long-tail profile n_c = n_max * rho^(-c/(C-1)) is the one of
Cao et al. 2019 (LDAM, "Learning Imbalanced Datasets with Label-Distribution-Aware
Margin Loss") and Cui et al. 2019. Groups follow Liu et al. 2019 (OLTR) for
classes and Yang et al. 2021 (DIR) for target regions: many-shot has more than
``many`` training samples, few-shot fewer than ``few``, medium-shot the rest.
When the set is too small for those thresholds (some group would be empty),
groups are thirds of the ranking by training count instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from lossbench.binning import bin_index_np as bin_index  # noqa: F401 (the metrics' import)
from lossbench.binning import histogram
from lossbench.errors import ConfigError
from lossbench.evaluation.registry import GROUPS


def check_imbalance_ratio(ratio: object, meaning: str) -> float:
    """``dataset.imbalance_ratio`` as a finite number >= 1, else a one-line error.

    ``meaning`` says what the ratio is for the dataset at hand (e.g. "head/tail count").
    """
    try:
        value = float(ratio)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(ratio, bool) or not math.isfinite(value) or value < 1:
        raise ConfigError(
            f"dataset.imbalance_ratio must be a number >= 1 ({meaning}), got {ratio!r}"
        )
    return value


def exponential_profile(n_max: int, n_classes: int, ratio: float) -> list[int]:
    """Training count per class index: ``floor(n_max * ratio^(-c/(C-1)))``, at least 1."""
    ratio = check_imbalance_ratio(ratio, "head/tail count")
    if n_classes < 2:
        raise ConfigError(f"dataset.n_classes must be >= 2, got {n_classes}")
    return [max(1, int(n_max * ratio ** (-c / (n_classes - 1)))) for c in range(n_classes)]


def group_by_count(
    counts: Sequence[int], many: int = 100, few: int = 20
) -> tuple[dict[str, list[int]], str]:
    """Indices grouped into many / medium / few by their counts; returns (groups, rule).

    ``rule`` is ``"thresholds"`` (> many, [few, many], < few) or ``"thirds"`` when
    a threshold group would be empty: the ranking by count (ties by index) is cut
    into three nearly equal parts, the largest counts first.
    """
    if few > many:
        raise ConfigError(f"dataset.few_shot ({few}) must not exceed dataset.many_shot ({many})")
    counts = [int(c) for c in counts]
    groups = _threshold_groups(counts, many, few)
    if all(groups.values()) or len(counts) < 3:
        return groups, "thresholds"
    order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
    parts = np.array_split(np.array(order), 3)
    return {g: sorted(int(i) for i in p) for g, p in zip(GROUPS, parts, strict=True)}, "thirds"


def spans_shot_groups(counts: Sequence[int], many: int = 100, few: int = 20) -> bool:
    """True when the counts fall in more than one of the threshold groups (> ``many``,
    [``few``, ``many``], < ``few``): only then is there a tail to report shot accuracies on.

    A balanced profile (``imbalance_ratio=1``) or a mild one whose counts all lie in
    one group has no many/few distinction; cutting it into thirds would label
    arbitrary classes "few-shot".
    """
    groups = _threshold_groups([int(c) for c in counts], many, few)
    return sum(1 for members in groups.values() if members) > 1


def _threshold_groups(counts: list[int], many: int, few: int) -> dict[str, list[int]]:
    return {
        "many": [i for i, c in enumerate(counts) if c > many],
        "medium": [i for i, c in enumerate(counts) if few <= c <= many],
        "few": [i for i, c in enumerate(counts) if c < few],
    }


def subsample_minority(
    x: np.ndarray, y: np.ndarray, ratio: float | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Keep ``ceil(n_max / ratio)`` random rows of the smallest class (``None`` = as is).

    Makes a real set more imbalanced: the ratio of the largest to the smallest
    class becomes ``ratio``. Asking for less imbalance than the set has is an error.
    """
    if ratio is None:
        return x, y
    ratio = check_imbalance_ratio(ratio, "largest/smallest class count; null = as is")
    counts = np.bincount(y)
    natural = counts.max() / counts[counts > 0].min()
    if ratio < natural:
        raise ConfigError(
            f"dataset.imbalance_ratio={ratio} is below this set's own ratio {natural:.2f}; "
            "use null (as is) or a larger value"
        )
    minority = int(np.argmin(np.where(counts > 0, counts, np.iinfo(np.int64).max)))
    keep_n = max(1, int(np.ceil(counts.max() / ratio)))
    idx_min = rng.permutation(np.flatnonzero(y == minority))[:keep_n]
    keep = np.sort(np.concatenate([np.flatnonzero(y != minority), idx_min]))
    return x[keep], y[keep]


def target_regions(
    train_y: np.ndarray, n_bins: int = 20, many: int = 100, few: int = 20
) -> dict[str, object]:
    """Equal-width bins over the training target range, each labelled many / medium / few.

    Yang et al. 2021 (Delving into Deep Imbalanced Regression) report errors on
    these regions; the labels come from the training count of each bin.
    """
    if n_bins < 3:
        raise ConfigError(f"dataset.n_bins must be >= 3, got {n_bins}")
    edges, counts = histogram(torch.as_tensor(np.asarray(train_y, dtype=np.float64)), n_bins)
    counts = counts.to(torch.int64)
    groups, rule = group_by_count(counts.tolist(), many, few)
    labels = [""] * n_bins
    for g, members in groups.items():
        for b in members:
            labels[b] = g
    return {"edges": edges.tolist(), "labels": labels, "counts": counts.tolist(), "rule": rule}
