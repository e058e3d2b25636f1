"""Metrics: scikit-learn values, and the fast per-epoch monitors equal to them."""

from __future__ import annotations

import pytest
import torch

from lossbench.data import Dataset, Split
from lossbench.evaluation import metrics


def _data(task: str, n_classes: int | None, y: torch.Tensor) -> Dataset:
    split = Split(torch.zeros(len(y), 1), y)
    return Dataset("t", task, split, split, split, n_classes=n_classes)


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_monitors_equal_sklearn(n_classes, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, n_classes, (200,), generator=g)
    z = torch.randn(200, n_classes, generator=g)
    data = _data("classification", n_classes, y)
    full = metrics.compute(data, y, z)
    for name in ("accuracy", "balanced_accuracy"):
        assert metrics.monitor_value(name, data, y, z) == pytest.approx(full[name], abs=1e-12)


def test_fast_regression_monitors_equal_sklearn():
    g = torch.Generator().manual_seed(0)
    y, p = torch.randn(50, 3, generator=g), torch.randn(50, 3, generator=g)
    data = _data("forecast", None, y)
    full = metrics.compute(data, y, p)
    for name in ("mse", "mae"):
        assert metrics.monitor_value(name, data, y, p) == pytest.approx(full[name], abs=1e-12)


def test_classification_hand_computed():
    y = torch.tensor([0, 0, 0, 1])
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # predicts 0, 0, 1, 1
    m = metrics.compute(_data("classification", 2, y), y, z)
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["recall_class_0"] == pytest.approx(2 / 3) and m["recall_class_1"] == 1.0
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    # F1 class 0: P=1, R=2/3 -> 0.8; class 1: P=1/2, R=1 -> 2/3
    assert m["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    # scores z1 - z0 = [-1, -1, 1, 1]: the positive beats two negatives and ties one
    assert m["roc_auc"] == pytest.approx((2 + 0.5) / 3)
