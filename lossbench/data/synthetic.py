"""Synthetic datasets generated on the fly (nothing to download)."""

from __future__ import annotations

from sklearn.datasets import make_classification

from lossbench.data.base import Dataset, tabular_classification
from lossbench.data.profiles import check_imbalance_ratio


def imbalanced(
    *,
    n_samples: int = 4000,
    n_features: int = 20,
    n_informative: int = 6,
    imbalance_ratio: float = 9.0,
    class_sep: float = 0.8,
    flip_y: float = 0.02,
    val_size: float = 0.2,
    test_size: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Binary classification with ``imbalance_ratio`` majority samples per minority sample.

    Class 0 is the majority, class 1 the minority (default 1:9). Built with
    scikit-learn's ``make_classification``; splits are stratified.
    """
    imbalance_ratio = check_imbalance_ratio(imbalance_ratio, "majority per minority")
    minority = 1.0 / (1.0 + imbalance_ratio)
    x, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=2,
        n_clusters_per_class=2,
        weights=[1.0 - minority],
        class_sep=class_sep,
        flip_y=flip_y,
        random_state=seed,
    )
    return tabular_classification("imbalanced", x, y, val_size, test_size, seed)
