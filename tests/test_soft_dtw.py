"""Soft-DTW: both backends against a plain cell-by-cell dynamic programme, hand values, limits."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lossbench.losses import SoftDTWLoss
from lossbench.losses.soft_dtw import pairwise_sq_dist, soft_dtw
from tests.sdtw_reference import BACKENDS, F64, HAS_NUMBA, reference, series

REPO = Path(__file__).resolve().parents[1]


def hard_dtw(cost: np.ndarray) -> float:
    n, m = cost.shape
    R = np.full((n + 1, m + 1), np.inf)
    R[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            R[i, j] = cost[i - 1, j - 1] + min(R[i - 1, j - 1], R[i - 1, j], R[i, j - 1])
    return float(R[n, m])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("n", "m", "dim", "gamma", "band"),
    [(6, 6, 1, 1.0, None), (5, 7, 2, 0.1, None), (7, 4, 1, 0.01, None), (6, 6, 3, 0.5, 1)],
)
def test_value_and_gradient_match_reference(backend, n, m, dim, gamma, band):
    x = series(3, n, dim, seed=1).requires_grad_()
    y = series(3, m, dim, seed=2).requires_grad_()
    want = reference(pairwise_sq_dist(x, y), gamma, band)
    want_gx, want_gy = torch.autograd.grad(want.sum(), (x, y))
    got = soft_dtw(pairwise_sq_dist(x, y), gamma, -1 if band is None else band, backend)
    gx, gy = torch.autograd.grad(got.sum(), (x, y))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    torch.testing.assert_close(gx, want_gx, rtol=0, atol=1e-6)
    torch.testing.assert_close(gy, want_gy, rtol=0, atol=1e-6)


def test_hand_computed_two_steps():
    # x = y = [0, 1]: cost [[0, 1], [1, 0]]; R11 = 0, R12 = R21 = 1 (one predecessor each),
    # R22 = 0 + softmin(0, 1, 1) = -log(1 + 2/e) at γ = 1.
    x = torch.tensor([[0.0, 1.0]], dtype=F64)
    for backend in ["torch"] + (["numba"] if HAS_NUMBA else []):
        plain = SoftDTWLoss(gamma=1.0, divergence=False, backend=backend)(x, x)
        assert plain.item() == pytest.approx(-math.log(1 + 2 / math.e), abs=1e-12)
    # one step against two: the only alignment sums both costs
    a = torch.tensor([[1.0, 3.0]])
    b = torch.tensor([[2.0]])
    assert SoftDTWLoss(divergence=False)(a, b).item() == pytest.approx(1.0 + 1.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tends_to_hard_dtw(backend):
    x, y = series(4, 8, 1, seed=5), series(4, 9, 1, seed=6)
    cost = pairwise_sq_dist(x, y)
    dtw = torch.tensor([hard_dtw(c.numpy()) for c in cost], dtype=F64)
    gaps = []
    for gamma in (1.0, 0.1, 1e-3):
        value = soft_dtw(cost, gamma, -1, backend)
        # softmin_γ lies in [min - γ log 3, min]: each of the n + m - 1 steps loses at most γ log 3
        assert (value <= dtw + 1e-12).all()
        assert (value >= dtw - gamma * math.log(3) * (8 + 9 - 1)).all()
        gaps.append(float((dtw - value).max()))
    assert gaps[0] > gaps[1] > gaps[2]
    torch.testing.assert_close(soft_dtw(cost, 1e-4, -1, backend), dtw, rtol=0, atol=1e-2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_divergence_nonnegative_and_zero_at_equality(backend):
    loss = SoftDTWLoss(gamma=1.0, divergence=True, backend=backend, reduction="none")
    x, y = series(16, 10, seed=7), series(16, 10, seed=8)
    assert (loss(x, y) >= 0).all()
    assert (loss(x, 3 * x + 1) >= 0).all()
    xr = x.clone().requires_grad_()
    at_equality = loss(xr, x)
    (grad,) = torch.autograd.grad(at_equality.sum(), xr)
    torch.testing.assert_close(at_equality, torch.zeros(16, dtype=F64), rtol=0, atol=1e-12)
    torch.testing.assert_close(grad, torch.zeros_like(grad), rtol=0, atol=1e-10)
    # unequal lengths take three separate calls; still zero only at equality
    assert (loss(x, y[:, :7]) >= 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_band_restricts_alignments(backend):
    x, y = series(3, 8, seed=9), series(3, 8, seed=10)
    cost = pairwise_sq_dist(x[..., None], y[..., None])
    full = soft_dtw(cost, 0.1, -1, backend)
    previous = None
    for band in (0, 1, 3):
        value = soft_dtw(cost, 0.1, band, backend)
        torch.testing.assert_close(value, reference(cost, 0.1, band), rtol=0, atol=1e-6)
        assert (value >= full - 1e-12).all()  # fewer alignments: a larger soft minimum
        if previous is not None:
            assert (value <= previous + 1e-12).all()
        previous = value
    torch.testing.assert_close(soft_dtw(cost, 0.1, 7, backend), full, rtol=0, atol=1e-12)
    # band 0 leaves only the diagonal: the plain sum of squared errors
    torch.testing.assert_close(soft_dtw(cost, 0.1, 0, backend), ((x - y) ** 2).sum(1))


@pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("divergence", [False, True])
def test_backends_agree_float32(divergence):
    x, y = series(8, 20, 2, seed=11, dtype=torch.float32), series(8, 20, 2, seed=12)
    y = y.float()
    values, grads = [], []
    for backend in ("torch", "numba"):
        xr = x.clone().requires_grad_()
        value = SoftDTWLoss(gamma=0.1, divergence=divergence, backend=backend)(xr, y)
        value.backward()
        assert value.dtype == torch.float32
        values.append(value)
        grads.append(xr.grad)
    torch.testing.assert_close(values[0], values[1])
    torch.testing.assert_close(grads[0], grads[1])


def test_univariate_series_is_one_channel():
    x, y = series(5, 6, seed=15), series(5, 6, seed=16)
    per = SoftDTWLoss(reduction="none")(x, y)
    assert per.shape == (5,)
    # [B, H] is [B, H, 1]
    torch.testing.assert_close(SoftDTWLoss(reduction="none")(x[..., None], y[..., None]), per)


@pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")
def test_numba_keeps_torch_thread_count():
    before = torch.get_num_threads()
    SoftDTWLoss(backend="numba")(series(2, 4), series(2, 4))
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gamma": 0.0}, "gamma must be > 0"),
        ({"bandwidth": -1}, "bandwidth must be null or an integer >= 0"),
        ({"bandwidth": 1.5}, "bandwidth must be null or an integer >= 0"),
        ({"backend": "cuda"}, "backend must be one of auto, numba, torch"),
        ({"reduction": "avg"}, "reduction must be one of"),
    ],
)
def test_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SoftDTWLoss(**kwargs)


def test_rejects_bad_shapes():
    loss = SoftDTWLoss()
    with pytest.raises(ValueError, match=r"\[B, H\] or \[B, H, D\]"):
        loss(torch.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match="differ in batch size or feature dimension"):
        loss(torch.zeros(2, 5, 2), torch.zeros(2, 5, 3))
    with pytest.raises(ValueError, match="cannot align lengths 5 and 8"):
        SoftDTWLoss(bandwidth=2)(torch.zeros(2, 5), torch.zeros(2, 8))


@pytest.mark.slow
def test_cli_forecast_run(cli, tmp_path):
    """One end-to-end multirun of both time-series losses on the sine forecast dataset."""
    if not (REPO / "configs" / "dataset" / "sine.yaml").exists():
        pytest.skip("no forecast dataset in this checkout (configs/dataset/sine.yaml is absent)")
    cli("run", "-m", "dataset=sine", "loss=soft_dtw,dilate", "trainer.epochs=2",
        "trainer.progress=false")  # fmt: skip
    results = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("**/metrics.json"))]
    assert sorted(r["choices"]["loss"] for r in results) == ["dilate", "soft_dtw"]
    assert all(r["status"] == "completed" for r in results), results


def test_default_is_the_papers_plain_soft_dtw_and_divergence_an_option():
    from omegaconf import OmegaConf

    from lossbench.build import build

    x, y = series(4, 6, 1, seed=21), series(4, 6, 1, seed=22)
    loss = build("loss", OmegaConf.load(REPO / "configs" / "loss" / "soft_dtw.yaml"))
    assert not loss.divergence and not SoftDTWLoss().divergence
    assert loss.minimum_at_target is False  # lossbench check skips the perfect-prediction test
    want = reference(pairwise_sq_dist(x, y), 0.01).mean()
    torch.testing.assert_close(loss(x, y), want.to(loss(x, y).dtype), rtol=1e-6, atol=1e-9)
    div = SoftDTWLoss(gamma=0.01, divergence=True)
    assert div.minimum_at_target is True
    xy, xx, yy = (reference(pairwise_sq_dist(a, b), 0.01) for a, b in ((x, y), (x, x), (y, y)))
    torch.testing.assert_close(div(x, y), (xy - (xx + yy) / 2).mean(), rtol=1e-6, atol=1e-9)
