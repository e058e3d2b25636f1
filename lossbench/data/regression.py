"""Imbalanced regression: skewed training targets, errors reported per target region.

Features and targets are standardised with the training split's mean and
standard deviation (metrics are in standardised target units;
``info["target_mean"]`` and ``info["target_std"]`` undo it).
``info["target_regions"]`` holds the equal-width target bins and their
many / medium / few labels (Yang et al. 2021).
"""

from __future__ import annotations

import numpy as np
import torch

from lossbench.data.base import Dataset, Split, check_fractions, fit_scaler, resolve_scale
from lossbench.data.profiles import check_imbalance_ratio, target_regions

Arrays = tuple[np.ndarray, np.ndarray]


def scaled_regression(
    name: str,
    train: Arrays,
    val: Arrays,
    test: Arrays,
    *,
    n_bins: int,
    many_shot: int,
    few_shot: int,
    info: dict | None = None,
    scale: str | None = None,
) -> Dataset:
    """A regression Dataset; features and target standardised with training statistics.

    ``scale`` None: each feature by its own mean and std (the built-in sets); else a
    mode of :func:`lossbench.data.base.fit_scaler` (``channel`` for images).
    """
    if scale is None:
        x_mean, x_std = train[0].mean(axis=0), train[0].std(axis=0)
        x_std = np.where(x_std > 0, x_std, 1.0)

        def transform(xs: np.ndarray) -> torch.Tensor:
            return torch.as_tensor((xs - x_mean) / x_std, dtype=torch.float32)

    else:
        transform = fit_scaler(train[0], resolve_scale(scale, train[0].shape[1:]))
    y_mean, y_std = float(train[1].mean()), float(train[1].std()) or 1.0

    def to_split(xs: np.ndarray, ys: np.ndarray) -> Split:
        return Split(transform(xs), torch.as_tensor((ys - y_mean) / y_std, dtype=torch.float32))

    splits = [to_split(*s) for s in (train, val, test)]
    regions = target_regions(splits[0].y.numpy(), n_bins, many_shot, few_shot)
    info = {**(info or {}), "target_mean": y_mean, "target_std": y_std, "target_regions": regions}
    return Dataset(name, "regression", *splits, info=info)


def skewed_uniform(n: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Draws on [0, 1] with density proportional to ratio^(-z): max/min density = ``ratio``.

    Inverse CDF: z = -ln(1 - u (1 - 1/ratio)) / ln(ratio); ratio 1 is uniform.
    """
    u = rng.random(n)
    if ratio == 1:
        return u
    return -np.log1p(-u * (1.0 - 1.0 / ratio)) / np.log(ratio)


def imbalanced_regression(
    *,
    n_train: int = 2000,
    n_val: int = 500,
    n_test: int = 1000,
    n_features: int = 8,
    imbalance_ratio: float = 100.0,
    noise: float = 0.1,
    n_bins: int = 20,
    many_shot: int = 100,
    few_shot: int = 20,
    seed: int = 0,
) -> Dataset:
    """Target z in [0, 1]: skewed in training (density ratio ``imbalance_ratio``), uniform in
    validation and test (as in Yang et al. 2021). Features are a fixed random linear map of
    (z, z^2, sin(pi z)) plus Gaussian noise, so z is learnable from them.
    """
    imbalance_ratio = check_imbalance_ratio(imbalance_ratio, "densest/sparsest target density")
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(3, n_features))

    def rows(z: np.ndarray) -> Arrays:
        basis = np.stack([z, z**2, np.sin(np.pi * z)], axis=1)
        return basis @ mix + noise * rng.normal(size=(len(z), n_features)), z

    train = rows(skewed_uniform(n_train, imbalance_ratio, rng))
    val, test = rows(rng.random(n_val)), rows(rng.random(n_test))
    return scaled_regression(
        "imbalanced_regression",
        train,
        val,
        test,
        n_bins=n_bins,
        many_shot=many_shot,
        few_shot=few_shot,
        info={"imbalance_ratio": float(imbalance_ratio)},
    )


def random_split(
    x: np.ndarray, y: np.ndarray, val_size: float, test_size: float, seed: int
) -> tuple[Arrays, Arrays, Arrays]:
    """A seeded random train/val/test split of rows (regression: no strata)."""
    check_fractions(val_size, test_size)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test, n_val = round(len(y) * test_size), round(len(y) * val_size)
    te, va, tr = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return (x[tr], y[tr]), (x[va], y[va]), (x[te], y[te])


def diabetes(
    *,
    val_size: float = 0.2,
    test_size: float = 0.2,
    n_bins: int = 10,
    many_shot: int = 100,
    few_shot: int = 20,
    seed: int = 0,
) -> Dataset:
    """scikit-learn diabetes (442 x 10): disease progression after a year, skewed to low values."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    train, val, test = random_split(x, y.astype(np.float64), val_size, test_size, seed)
    return scaled_regression(
        "diabetes", train, val, test, n_bins=n_bins, many_shot=many_shot, few_shot=few_shot
    )
