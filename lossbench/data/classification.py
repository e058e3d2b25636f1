"""Imbalanced classification: a synthetic multiclass set and two real sets.

Real sets take an ``imbalance_ratio`` (largest / smallest class) that subsamples
their smallest class before the stratified split; ``null`` keeps them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.datasets import make_classification

from lossbench.data.base import Dataset, check_fractions, tabular_classification
from lossbench.data.profiles import subsample_minority
from lossbench.errors import ConfigError


def imbalanced_multiclass(
    *,
    n_samples: int = 4000,
    class_weights: Sequence[float] = (0.6, 0.25, 0.1, 0.05),
    n_features: int = 20,
    n_informative: int = 8,
    class_sep: float = 1.0,
    flip_y: float = 0.01,
    val_size: float = 0.2,
    test_size: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Synthetic multiclass set, class ``c`` drawing a ``class_weights[c]`` share of rows.

    Weights are normalised to sum to 1; built with scikit-learn's ``make_classification``.
    """
    weights = [float(w) for w in class_weights]
    if len(weights) < 2 or min(weights) <= 0:
        raise ConfigError(
            f"dataset.class_weights must list >= 2 positive shares, one per class, got {weights}"
        )
    check_fractions(val_size, test_size)
    total = sum(weights)
    x, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=2,
        n_classes=len(weights),
        n_clusters_per_class=1,
        weights=[w / total for w in weights],
        class_sep=class_sep,
        flip_y=flip_y,
        random_state=seed,
    )
    return tabular_classification("imbalanced_multiclass", x, y, val_size, test_size, seed)


def breast_cancer(
    *,
    imbalance_ratio: float | None = None,
    val_size: float = 0.2,
    test_size: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Wisconsin breast cancer (scikit-learn, 569 x 30); class 0 malignant (212), 1 benign (357)."""
    from sklearn.datasets import load_breast_cancer

    check_fractions(val_size, test_size)
    source = load_breast_cancer()
    x, y = source.data, source.target
    x, y = subsample_minority(x, y, imbalance_ratio, np.random.default_rng(seed))
    names = [str(n) for n in source.target_names]  # malignant, benign
    return tabular_classification(
        "breast_cancer", x, y, val_size, test_size, seed, info={"class_names": names}
    )


ANES96_TARGET = "PID"
ANES96_CLASSES = (  # PID 0..6, as statsmodels' description of the data set lists them
    "Strong Democrat",
    "Weak Democrat",
    "Independent-Democrat",
    "Independent-Independent",
    "Independent-Republican",
    "Weak Republican",
    "Strong Republican",
)


def anes96(
    *,
    imbalance_ratio: float | None = None,
    val_size: float = 0.2,
    test_size: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """1996 American National Election Study (statsmodels, 944 rows, 10 features).

    Target: party identification ``PID``, 7 classes from 0 (strong Democrat) to
    6 (strong Republican), 37 to 200 rows each.
    """
    from statsmodels.datasets import anes96 as source

    check_fractions(val_size, test_size)
    df = source.load_pandas().data
    y = df[ANES96_TARGET].to_numpy().astype(np.int64)
    x = df.drop(columns=[ANES96_TARGET]).to_numpy(dtype=np.float64)
    x, y = subsample_minority(x, y, imbalance_ratio, np.random.default_rng(seed))
    return tabular_classification(
        "anes96", x, y, val_size, test_size, seed, info={"class_names": list(ANES96_CLASSES)}
    )
