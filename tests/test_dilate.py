"""DILATE: hand values, and the temporal term's gradient (a Hessian-vector product)
against double backward through a plain cell-by-cell dynamic programme."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from lossbench.build import build
from lossbench.data.base import Dataset, Split
from lossbench.losses import DilateLoss, SoftDTWLoss
from lossbench.losses.soft_dtw import pairwise_sq_dist, soft_alignment
from lossbench.models import MLP
from lossbench.training.loop import Trainer, TrainSettings
from tests.conftest import composed
from tests.sdtw_reference import BACKENDS, F64, reference, series

REPO = Path(__file__).resolve().parents[1]


def reference_dilate(x: torch.Tensor, y: torch.Tensor, alpha: float, gamma: float):
    """Per-series DILATE with the alignment from autograd (``create_graph``), so its own
    gradient comes from double backward, independently of the Hessian-vector product."""
    cost = pairwise_sq_dist(x[..., None], y[..., None])
    shape = reference(cost, gamma)
    (align,) = torch.autograd.grad(shape.sum(), cost, create_graph=True)
    h = x.shape[1]
    steps = torch.arange(h, dtype=F64)
    omega = (steps[:, None] - steps[None, :]) ** 2 / h**2
    temporal = (align * omega).sum((1, 2))
    return alpha * shape + (1 - alpha) * temporal, shape, temporal


def test_hand_computed_two_steps():
    # x = y = [0, 1], γ = 1: cost [[0, 1], [1, 0]], sdtw = -log(1 + 2/e). The last cell's
    # soft minimum weighs R12 = R21 = 1 by e^-1 / (1 + 2 e^-1) each, so the alignment has
    # A12 = A21 = 1 / (e + 2) off the diagonal, where Ω = 1 / 2² : temporal = 1 / (2 (e + 2)).
    x = torch.tensor([[0.0, 1.0]], dtype=F64)
    loss = DilateLoss(alpha=0.5, gamma=1.0)
    terms = loss.components(x, x)
    assert terms["shape"].item() == pytest.approx(-math.log(1 + 2 / math.e), abs=1e-12)
    assert terms["temporal"].item() == pytest.approx(1 / (2 * (math.e + 2)), abs=1e-12)
    expected = 0.5 * terms["shape"].item() + 0.5 * terms["temporal"].item()
    assert loss(x, x).item() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("alpha", "gamma"), [(0.5, 0.01), (0.2, 0.1), (0.0, 1.0)])
def test_value_and_gradient_match_double_backward(backend, alpha, gamma):
    x = series(3, 6, seed=1).requires_grad_()
    y = series(3, 6, seed=2).requires_grad_()
    want, _, _ = reference_dilate(x, y, alpha, gamma)
    want_gx, want_gy = torch.autograd.grad(want.sum(), (x, y))
    got = DilateLoss(alpha=alpha, gamma=gamma, backend=backend, reduction="none")(x, y)
    gx, gy = torch.autograd.grad(got.sum(), (x, y))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    torch.testing.assert_close(gx, want_gx, rtol=0, atol=1e-6)
    torch.testing.assert_close(gy, want_gy, rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("band", [-1, 1])
def test_alignment_jacobian_gradcheck(backend, band):
    # The Jacobian of the alignment is the Hessian of soft-DTW: checks every Hessian product.
    cost = series(2, 4 if band < 0 else 5, 5, seed=3).abs().requires_grad_()
    assert torch.autograd.gradcheck(lambda c: soft_alignment(c, 0.5, band, backend), (cost,))


def test_alpha_one_is_soft_dtw_and_components():
    x, y = series(4, 7, seed=6), series(4, 7, seed=7)
    plain = SoftDTWLoss(gamma=0.01, divergence=False)(x, y)
    torch.testing.assert_close(DilateLoss(alpha=1.0)(x, y), plain)
    loss = DilateLoss(alpha=0.25)
    terms = loss.components(x, y)
    torch.testing.assert_close(terms["shape"], plain)
    torch.testing.assert_close(loss(x, y), 0.25 * terms["shape"] + 0.75 * terms["temporal"])
    # temporal is a distortion index: ≥ 0, and 0 for the identical series at small γ
    assert (DilateLoss(alpha=0.0, reduction="none")(x, y) >= 0).all()
    assert DilateLoss(alpha=0.0, gamma=1e-3)(x, x).item() == pytest.approx(0.0, abs=1e-6)


def test_temporal_term_penalises_a_shift():
    # The same bump, delayed by 3 steps: the shape term barely changes, the temporal one grows.
    t = torch.arange(20, dtype=F64)
    bump = torch.exp(-0.5 * (t - 8) ** 2)[None]
    late = torch.exp(-0.5 * (t - 11) ** 2)[None]
    loss = DilateLoss(gamma=0.01)
    near, far = loss.components(bump, bump), loss.components(bump, late)
    assert far["temporal"] > near["temporal"] + 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 1.5}, r"alpha must be in \[0, 1\]"),
        ({"gamma": -1.0}, "gamma must be > 0"),
        ({"reduction": "max"}, "reduction must be one of"),
    ],
)
def test_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DilateLoss(**kwargs)


def test_rejects_different_horizons():
    with pytest.raises(ValueError, match="same horizon, got 5 and 6"):
        DilateLoss()(torch.zeros(2, 5), torch.zeros(2, 6))


def _sine_forecast() -> Dataset:
    """A tiny in-memory forecast set: 16 steps of a phase-shifted sine in, the next 8 out."""
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> Split:
        s = torch.sin(torch.rand(n, 1, generator=g) * 6 + torch.arange(24.0) * 0.3)
        return Split(s[:, :16, None], s[:, 16:])

    return Dataset("sine_toy", "forecast", split(64), split(32), split(32))


def test_trainer_logs_both_terms_and_yaml_builds():
    data = _sine_forecast()
    settings = TrainSettings(
        epochs=2,
        batch_size=16,
        monitor="loss",
        patience=None,
        evaluate="best",
        progress=False,
        fail_on_nan=True,
    )
    for name in ("soft_dtw", "dilate"):
        loss = build("loss", composed("loss", name))
        model = MLP(data.in_features, data.out_features, seeds=[0, 1])
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        results = Trainer(model, loss, opt, data, settings).fit()
        assert [r.status for r in results] == ["completed", "completed"]
        last = results[0].history[-1]
        if name == "dilate":
            assert isinstance(loss, DilateLoss)
            expected = 0.5 * last["val_shape"] + 0.5 * last["val_temporal"]
            assert last["val_loss"] == pytest.approx(expected, rel=1e-5)
        else:
            assert isinstance(loss, SoftDTWLoss) and not loss.divergence  # the paper's loss
