"""The core losses against hand-computed values and torch built-ins (gradients, extremes and
reductions: tests/test_losses_conformance.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lossbench.losses import AsymmetricLoss, CrossEntropyLoss, MSELoss

LOGITS = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
TARGET = torch.tensor([0, 1])
# -log sigmoid(2) and -log sigmoid(1), by hand: log(1 + e^-2), log(1 + e^-1)
NLL = [math.log1p(math.exp(-2.0)), math.log1p(math.exp(-1.0))]


def test_ce_hand_computed():
    assert CrossEntropyLoss()(LOGITS, TARGET).item() == pytest.approx(sum(NLL) / 2, abs=1e-6)
    per = CrossEntropyLoss(reduction="none")(LOGITS, TARGET)
    assert per.tolist() == pytest.approx(NLL, abs=1e-6)
    assert CrossEntropyLoss(reduction="sum")(LOGITS, TARGET).item() == pytest.approx(
        sum(NLL), abs=1e-6
    )


def test_ce_single_binary_logit_matches_two_logits():
    z = torch.tensor([2.0, -1.0])  # log-odds of class 1
    t = torch.tensor([1, 0])
    assert CrossEntropyLoss(reduction="none")(z, t).tolist() == pytest.approx(NLL, abs=1e-6)
    ref = F.binary_cross_entropy_with_logits(z, t.float())
    assert CrossEntropyLoss()(z, t).item() == pytest.approx(ref.item(), abs=1e-7)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n_classes", [2, 5])
def test_ce_equals_torch(seed, n_classes):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(64, n_classes, generator=g, dtype=torch.float64) * 3
    t = torch.randint(0, n_classes, (64,), generator=g)
    torch.testing.assert_close(CrossEntropyLoss()(z, t), F.cross_entropy(z, t))


def test_asymmetric_hand_computed_seed_example():
    # The seed's example weights: class 0 (majority) 0.5, class 1 (minority) 2.0.
    loss = AsymmetricLoss(class_weights=[0.5, 2.0])(LOGITS, TARGET)
    assert loss.item() == pytest.approx((0.5 * NLL[0] + 2.0 * NLL[1]) / 2, abs=1e-6)


def test_asymmetric_equal_weights_is_ce_and_scales():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(32, 4, generator=g)
    t = torch.randint(0, 4, (32,), generator=g)
    ce = CrossEntropyLoss()(z, t)
    torch.testing.assert_close(AsymmetricLoss(class_weights=[1.0] * 4)(z, t), ce)
    torch.testing.assert_close(AsymmetricLoss(class_weights=[3.0] * 4)(z, t), 3 * ce)


def test_asymmetric_mean_is_mean_of_weighted_terms_not_torch_weighted_mean():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(16, 3, generator=g)
    t = torch.randint(0, 3, (16,), generator=g)
    w = torch.tensor([0.2, 1.0, 5.0])
    ours = AsymmetricLoss(class_weights=w.tolist())(z, t)
    torch.testing.assert_close(ours, F.cross_entropy(z, t, weight=w, reduction="sum") / 16)


def test_asymmetric_auto_is_inverse_frequency():
    loss = AsymmetricLoss(class_weights="auto", n_classes=2, class_counts=[90, 10])
    # N / (C * n_c): 100 / (2 * 90), 100 / (2 * 10)
    assert loss.class_weights.tolist() == pytest.approx([100 / 180, 5.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"class_weights": [1.0, 2.0, 3.0], "n_classes": 2}, "3 values but the data has 2 classes"),
        ({"class_weights": [1.0, -2.0]}, "non-negative"),
        ({"class_weights": "balanced"}, "list or 'auto'"),
        ({"class_weights": [1.0, 1.0], "reduction": "avg"}, "reduction must be one of"),
    ],
)
def test_asymmetric_rejects_bad_weights(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AsymmetricLoss(**kwargs)


def test_mse_is_brier_on_classes():
    p0 = 1 / (1 + math.exp(-2.0))  # softmax([2, 0])[0]
    value = MSELoss()(LOGITS[:1], TARGET[:1]).item()
    assert value == pytest.approx((p0 - 1) ** 2 + (1 - p0) ** 2, abs=1e-6)
    # one binary logit: same Brier score as two logits
    assert MSELoss()(torch.tensor([-2.0]), torch.tensor([0])).item() == pytest.approx(
        value, abs=1e-6
    )


def test_mse_regression_equals_torch():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(10, 3, generator=g), torch.randn(10, 3, generator=g)
    torch.testing.assert_close(MSELoss()(a, b), F.mse_loss(a, b))
