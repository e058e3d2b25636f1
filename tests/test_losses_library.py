"""Each loss against identities with torch built-ins and values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossbench.build import build
from lossbench.errors import ConfigError
from lossbench.losses import (
    BalancedMSELoss,
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    CombinedLoss,
    CrossEntropyLoss,
    FocalLoss,
    HuberLoss,
    LabelSmoothingLoss,
    LDAMLoss,
    LinexLoss,
    LogitAdjustedLoss,
    MAELoss,
    MSELoss,
    QuantileLoss,
    TemporalLoss,
    WeightedMSELoss,
)
from lossbench.losses.class_balanced import effective_number_weights
from lossbench.losses.density import bin_index, lds_window


def _cls(seed: int = 0, n: int = 32, c: int = 4, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    return z, torch.randint(0, c, (n,), generator=g)


def _same_value_and_grad(loss_a, loss_b, z, t):
    za, zb = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
    a, b = loss_a(za, t), loss_b(zb, t)
    torch.testing.assert_close(a, b)
    a.backward()
    b.backward()
    torch.testing.assert_close(za.grad, zb.grad)


# -- identities: every prior/margin/focusing loss reduces to cross-entropy ---------
@pytest.mark.parametrize("seed", [0, 1])
def test_focal_gamma_zero_is_ce(seed):
    z, t = _cls(seed)
    _same_value_and_grad(FocalLoss(gamma=0.0), CrossEntropyLoss(), z, t)


def test_focal_binary_logit_gamma_zero_is_bce_and_focal_below_ce():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(20, generator=g, dtype=torch.float64) * 4
    t = torch.randint(0, 2, (20,), generator=g)
    ref = F.binary_cross_entropy_with_logits(z, t.double())
    torch.testing.assert_close(FocalLoss(gamma=0.0)(z, t), ref)
    per_ce = CrossEntropyLoss(reduction="none")(z, t)
    assert (FocalLoss(gamma=2.0, reduction="none")(z, t) <= per_ce).all()


def test_focal_hand_computed_binary_alpha():
    # logit 1 for class 1: p_t = sigmoid(1); alpha 0.25 on class 1 (Lin et al.)
    p = 1 / (1 + math.exp(-1.0))
    want = [0.25 * (1 - p) ** 2 * -math.log(p), 0.75 * p**2 * -math.log(1 - p)]
    got = FocalLoss(gamma=2.0, alpha=0.25, reduction="none")(
        torch.tensor([1.0, 1.0]), torch.tensor([1, 0])
    )
    assert got.tolist() == pytest.approx(want, rel=1e-5)


def test_focal_per_class_alpha_and_scalar_alpha_needs_two_classes():
    z, t = _cls(3, c=3)
    alpha = [0.2, 1.0, 3.0]
    want = torch.tensor(alpha, dtype=torch.float64)[t] * F.cross_entropy(z, t, reduction="none")
    torch.testing.assert_close(FocalLoss(gamma=0.0, alpha=alpha)(z, t), want.mean())
    with pytest.raises(ValueError, match="scalar alpha is defined for binary data"):
        FocalLoss(alpha=0.25, n_classes=3)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        FocalLoss(gamma=-1)


@pytest.mark.parametrize("gamma", [0.1, 0.5, 2.0])
def test_focal_saturated_logits_finite_gradients(gamma):
    z = torch.tensor([[200.0, -200.0, 0.0], [1e4, 0.0, 0.0], [0.0, 30.0, 0.0]], requires_grad=True)
    t = torch.tensor([0, 0, 1])  # p_t = 1 up to float precision
    value = FocalLoss(gamma=gamma)(z, t)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(z.grad).all()
    assert value.item() == pytest.approx(0.0, abs=1e-6)


def test_class_balanced_beta_zero_is_ce_and_focal_base():
    z, t = _cls(4)
    counts = [50, 20, 5, 1]
    _same_value_and_grad(ClassBalancedLoss(beta=0.0, class_counts=counts), CrossEntropyLoss(), z, t)
    _same_value_and_grad(
        ClassBalancedLoss(beta=0.0, base="focal", gamma=1.5, class_counts=counts),
        FocalLoss(gamma=1.5),
        z,
        t,
    )


def test_class_balanced_weights_by_hand():
    # beta 0.5, counts [2, 1]: (1-b)/(1-b^n) = 0.5/0.75 and 0.5/0.5 -> [2/3, 1], sum to C=2
    assert effective_number_weights([2, 1], 0.5) == pytest.approx([0.8, 1.2])
    # beta -> 1 approaches inverse frequency
    w = effective_number_weights([100, 10], 0.999999)
    assert w[1] / w[0] == pytest.approx(10.0, rel=1e-3)
    with pytest.raises(ValueError, match="beta must be in"):
        effective_number_weights([1, 2], 1.0)


def test_logit_adjusted_and_balanced_softmax_uniform_prior_is_ce():
    z, t = _cls(5)
    ce = CrossEntropyLoss()
    _same_value_and_grad(LogitAdjustedLoss(tau=1.0, class_prior=[0.25] * 4), ce, z, t)
    _same_value_and_grad(LogitAdjustedLoss(tau=0.0, class_prior=[0.7, 0.1, 0.1, 0.1]), ce, z, t)
    _same_value_and_grad(BalancedSoftmaxLoss(class_counts=[30] * 4), ce, z, t)


def test_balanced_softmax_is_logit_adjustment_tau_one():
    z, t = _cls(6)
    counts = [80, 15, 4, 1]
    prior = [c / 100 for c in counts]
    _same_value_and_grad(
        BalancedSoftmaxLoss(class_counts=counts), LogitAdjustedLoss(class_prior=prior), z, t
    )


def test_logit_adjusted_hand_computed():
    # z = [0, 0], prior [0.8, 0.2], y = 1: softmax(log 0.8, log 0.2)_1 = 0.2
    loss = LogitAdjustedLoss(class_prior=[0.8, 0.2])(torch.zeros(1, 2), torch.tensor([1]))
    assert loss.item() == pytest.approx(-math.log(0.2), rel=1e-6)


def test_ldam_zero_margin_is_ce_and_hand_computed_margins():
    z, t = _cls(7)
    _same_value_and_grad(
        LDAMLoss(max_margin=0.0, s=1.0, class_counts=[9, 5, 3, 1]), CrossEntropyLoss(), z, t
    )
    loss = LDAMLoss(max_margin=0.5, s=1.0, class_counts=[16, 1], reduction="none")
    # n^(-1/4) = [0.5, 1] -> scaled so the max is 0.5: [0.25, 0.5]
    assert loss.margins.tolist() == pytest.approx([0.25, 0.5])
    assert LDAMLoss(class_counts=[16, 1]).s == 10.0  # the measured default on plain logits
    got = loss(torch.tensor([[2.0, 0.0], [2.0, 0.0]]), torch.tensor([0, 1]))
    want = [math.log1p(math.exp(-1.75)), math.log1p(math.exp(2.5))]
    assert got.tolist() == pytest.approx(want, rel=1e-5)


def test_ldam_normalized_logits_hand_computed():
    loss = LDAMLoss(max_margin=0.5, s=10.0, normalize=True, class_counts=[16, 1], reduction="none")
    # [3, 4] / 5 = [0.6, 0.8]; margins [0.25, 0.5]
    got = loss(torch.tensor([[3.0, 4.0], [3.0, 4.0]]), torch.tensor([0, 1]))
    want = [math.log1p(math.exp(10 * (0.8 - 0.35))), math.log1p(math.exp(-10 * (0.3 - 0.6)))]
    assert got.tolist() == pytest.approx(want, rel=1e-5)
    # scaling the logits changes nothing: the margin cannot be outgrown
    z, t = _cls(9, c=2)
    torch.testing.assert_close(loss(5 * z, t), loss(z, t))


def test_ldam_drw_switches_on_at_the_given_epoch():
    counts = [90, 10]
    loss = LDAMLoss(max_margin=0.0, s=1.0, drw_epoch=0.8, drw_beta=0.999, class_counts=counts)
    z, t = _cls(8, c=2)
    loss.on_epoch_start(8, 10)  # 0.8 of 10 epochs: epochs 9 and 10 re-weighted, not 8
    torch.testing.assert_close(loss(z, t), F.cross_entropy(z, t))
    loss.on_epoch_start(9, 10)
    w = torch.tensor(effective_number_weights(counts, 0.999), dtype=torch.float64)
    torch.testing.assert_close(loss(z, t), (w[t] * F.cross_entropy(z, t, reduction="none")).mean())
    fixed = LDAMLoss(drw_epoch=3, class_counts=counts)
    fixed.on_epoch_start(2, 100)
    assert not fixed.reweight
    fixed.on_epoch_start(3, 100)
    assert fixed.reweight
    with pytest.raises(ValueError, match="drw_epoch must be"):
        LDAMLoss(drw_epoch=2.5, class_counts=counts)


@pytest.mark.parametrize(
    ("drw_epoch", "epochs", "first"),
    [
        (0.8, 200, 161),  # the reference LDAM-DRW run: idx = epoch // 160, 0-based epochs
        (0.8, 10, 9),
        (0.8, 300, 241),
        (0.7, 10, 8),  # 0.7 * 10 = 7.000000000000001 in floating point
        (0.5, 3, 3),  # 0-based index >= 1.5: only the last epoch
        (0.25, 7, 3),
        (0.99, 50, 51),  # after the run: the final form is never trained
        (160, 200, 160),  # an integer is the first re-weighted epoch itself
        (1, 5, 1),
    ],
)
def test_ldam_drw_switch_epoch_matches_the_reference_rule(drw_epoch, epochs, first):
    loss = LDAMLoss(drw_epoch=drw_epoch, class_counts=[90, 10])
    assert loss.schedule_switch_epoch(epochs) == first
    on = []
    for epoch in range(1, epochs + 1):
        loss.on_epoch_start(epoch, epochs)
        on.append(loss.reweight)
    assert on == [e >= first for e in range(1, epochs + 1)]
    if isinstance(drw_epoch, float):  # the reference: 0-based index i re-weighted iff i >= f*E
        assert on == [i >= drw_epoch * epochs - 1e-9 for i in range(epochs)]


def test_schedule_switch_epoch_is_none_without_a_schedule():
    assert LDAMLoss(class_counts=[90, 10]).schedule_switch_epoch(100) is None
    assert CrossEntropyLoss().schedule_switch_epoch(100) is None


def test_label_smoothing_hand_computed_and_ce_option():
    z, t = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    nll0 = math.log1p(math.exp(-2.0))
    nll1 = 2.0 + nll0
    want = 0.9 * nll0 + 0.1 * (nll0 + nll1) / 2
    assert LabelSmoothingLoss(epsilon=0.1)(z, t).item() == pytest.approx(want, rel=1e-6)
    assert CrossEntropyLoss(label_smoothing=0.1)(z, t).item() == pytest.approx(want, rel=1e-6)
    # one binary logit z behaves as the two logits [0, z]
    zb = torch.tensor([-2.0])
    assert LabelSmoothingLoss(epsilon=0.1)(zb, t).item() == pytest.approx(want, rel=1e-6)


# -- regression ---------------------------------------------------------------------
def test_quantile_median_is_half_mae_and_hand_values():
    g = torch.Generator().manual_seed(0)
    p, y = torch.randn(50, generator=g), torch.randn(50, generator=g)
    torch.testing.assert_close(QuantileLoss(q=0.5)(p, y), MAELoss()(p, y) / 2)
    got = QuantileLoss(q=0.9, reduction="none")(torch.tensor([0.0, 0.0]), torch.tensor([2.0, -2.0]))
    assert got.tolist() == pytest.approx([1.8, 0.2])  # under-prediction costs 9x more
    # a list of quantiles: one prediction per quantile, summed over quantiles
    multi = QuantileLoss(q=[0.1, 0.9], reduction="none")
    got = multi(torch.tensor([[0.0, 0.0]]), torch.tensor([2.0]))
    assert got.tolist() == pytest.approx([0.2 + 1.8])
    with pytest.raises(ValueError, match="needs predictions of shape"):
        multi(torch.zeros(3), torch.zeros(3))


def test_mae_huber_linex_hand_values():
    p, y = torch.tensor([3.0, 0.5, -1.0]), torch.zeros(3)
    assert MAELoss(reduction="none")(p, y).tolist() == pytest.approx([3.0, 0.5, 1.0])
    assert HuberLoss(delta=1.0, reduction="none")(p, y).tolist() == pytest.approx([2.5, 0.125, 0.5])
    torch.testing.assert_close(HuberLoss(delta=0.7)(p, y), F.huber_loss(p, y, delta=0.7))
    # b (exp(a e) - a e - 1), e = pred - y, a = b = 1
    got = LinexLoss(reduction="none")(torch.tensor([1.0, -1.0]), torch.zeros(2))
    assert got.tolist() == pytest.approx([math.e - 2.0, math.exp(-1.0)], rel=1e-6)


def test_linex_is_asymmetric_and_continued_linearly_beyond_the_clip():
    over, under = (
        LinexLoss(a=1.0)(torch.tensor([2.0]), torch.zeros(1)),
        LinexLoss(a=1.0)(torch.tensor([-2.0]), torch.zeros(1)),
    )
    assert over > 3 * under
    p = torch.tensor([31.0], dtype=torch.float64, requires_grad=True)
    value = LinexLoss()(p, torch.zeros(1, dtype=torch.float64))
    value.backward()
    assert value.item() == pytest.approx(math.expm1(30) + math.exp(30) - 31, rel=1e-12)
    assert p.grad.item() == pytest.approx(math.exp(30) - 1, rel=1e-12)


def test_weighted_mse_inverse_and_sqrt_weights_by_hand():
    train = torch.tensor([0.0, 0.0, 0.0, 1.0])
    inv = WeightedMSELoss(
        weighting="inverse", lds=False, n_bins=2, count_clip=None, train_targets=train
    )
    # counts [3, 1] -> 1/n = [1/3, 1]; mean over training samples 0.5 -> [2/3, 2]
    assert inv.weights.tolist() == pytest.approx([2 / 3, 2.0])
    got = inv.__class__(
        weighting="inverse",
        lds=False,
        n_bins=2,
        count_clip=None,
        train_targets=train,
        reduction="none",
    )(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0]))
    assert got.tolist() == pytest.approx([2 / 3, 2.0 * 4])
    sq = WeightedMSELoss(weighting="sqrt_inv", lds=False, n_bins=2, train_targets=train)
    raw = [1 / math.sqrt(3), 1.0]
    scale = (3 * raw[0] + raw[1]) / 4
    assert sq.weights.tolist() == pytest.approx([r / scale for r in raw])


def test_weighted_mse_lds_smooths_the_histogram():
    from scipy.ndimage import gaussian_filter1d

    train = torch.tensor([0.0, 0.0, 0.0, 1.0])
    lds = WeightedMSELoss(
        weighting="inverse",
        lds=True,
        lds_ks=3,
        lds_sigma=1.0,
        n_bins=2,
        count_clip=None,
        train_targets=train,
    )
    window = gaussian_filter1d([0.0, 1.0, 0.0], 1.0)
    k = window[0] / window[1]  # the official window [k, 1, k]
    raw = [1 / (3 + k), 1 / (1 + 3 * k)]  # [3, 1] convolved with [k, 1, k]
    scale = (3 * raw[0] + raw[1]) / 4
    assert lds.weights.tolist() == pytest.approx([r / scale for r in raw])
    with pytest.raises(ValueError, match="lds_ks must be an odd integer"):
        WeightedMSELoss(lds_ks=4, train_targets=train)
    with pytest.raises(ValueError, match="count_clip must"):
        WeightedMSELoss(weighting="inverse", count_clip=[10, 5], train_targets=train)


@pytest.mark.parametrize(("ks", "sigma"), [(5, 2.0), (3, 1.0), (7, 1.5), (9, 0.5), (1, 2.0)])
def test_lds_window_matches_the_official_scipy_windows(ks, sigma):
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal.windows import triang

    half = ks // 2
    delta = [0.0] * half + [1.0] + [0.0] * half
    want = gaussian_filter1d(delta, sigma=sigma)  # get_lds_kernel_window, gaussian
    got = lds_window("gaussian", ks, sigma)
    assert got.tolist() == pytest.approx((want / want.max()).tolist(), rel=1e-12)
    assert lds_window("triang", ks, sigma).tolist() == pytest.approx(triang(ks).tolist())
    x = torch.arange(-half, half + 1, dtype=torch.float64)
    lap = torch.exp(-x.abs() / sigma) / (2 * sigma)
    assert lds_window("laplace", ks, sigma).tolist() == pytest.approx((lap / lap.max()).tolist())


def _official_prepare_weights(bins, n_bins, reweight, lds, ks=5, sigma=2.0):
    """Port of imdb-wiki-dir's ``AgeDB._prepare_weights`` (Yang et al. 2021) on bin indices."""
    from scipy.ndimage import convolve1d, gaussian_filter1d

    value = np.bincount(bins, minlength=n_bins).astype(np.float64)
    # the official code clips the counts for inverse re-weighting only
    value = np.sqrt(value) if reweight == "sqrt_inv" else np.clip(value, 5, 1000)
    num_per_label = value[bins]
    if lds:
        base = [0.0] * (ks // 2) + [1.0] + [0.0] * (ks // 2)
        window = gaussian_filter1d(base, sigma=sigma) / max(gaussian_filter1d(base, sigma=sigma))
        num_per_label = convolve1d(value, weights=window, mode="constant")[bins]
    weights = 1.0 / num_per_label
    return weights * len(weights) / weights.sum()


@pytest.mark.parametrize("weighting", ["inverse", "sqrt_inv"])
@pytest.mark.parametrize("lds", [False, True])
def test_weighted_mse_matches_the_official_prepare_weights(weighting, lds):
    g = torch.Generator().manual_seed(3)
    train = torch.cat([torch.randn(3000, generator=g), 4 + torch.rand(7, generator=g)])
    loss = WeightedMSELoss(weighting=weighting, lds=lds, n_bins=40, train_targets=train)
    bins = bin_index(train.to(torch.float64), loss.edges).numpy()
    want = _official_prepare_weights(bins, 40, weighting, lds)
    got = loss.sample_weights(train.to(torch.float64)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_weighted_mse_rare_targets_weigh_more():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(2000, generator=g)
    loss = WeightedMSELoss(train_targets=train, reduction="none")
    y = torch.tensor([0.0, 2.5, -2.5])
    w = loss(torch.ones(3), y) / (1.0 - y) ** 2
    assert w[1] > 3 * w[0] and w[2] > 3 * w[0]


def test_balanced_mse_hand_computed_one_bin():
    # one bin, centre 1, frequency 1: l = (p - y)^2 + 2 s^2 (-(p - 1)^2 / (2 s^2))
    loss = BalancedMSELoss(sigma=1.0, n_bins=1, train_targets=torch.tensor([0.0, 2.0]))
    got = BalancedMSELoss(
        sigma=1.0, n_bins=1, train_targets=torch.tensor([0.0, 2.0]), reduction="none"
    )(torch.tensor([0.0, 3.0]), torch.tensor([0.0, 1.0]))
    assert got.tolist() == pytest.approx([0.0 - 1.0, 4.0 - 4.0])
    assert loss.centres.tolist() == pytest.approx([1.0])


def test_balanced_mse_pushes_predictions_away_from_frequent_targets():
    train = torch.cat([torch.zeros(900), torch.full((100,), 4.0)])
    loss = BalancedMSELoss(sigma=1.0, n_bins=4, train_targets=train)
    p = torch.tensor([2.0], requires_grad=True)
    loss(p, torch.tensor([2.0])).backward()
    # descent moves p towards the rare value 4: -2 (p - E_w[c]), E_w[c] = 0.9*0.5 + 0.1*3.5
    assert p.grad.item() == pytest.approx(-2 * (2.0 - 0.8), rel=1e-5)


# -- time series ----------------------------------------------------------------------
def test_temporal_hand_computed_and_lambda_zero_is_mse():
    p, y = torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0, 2.0]])
    # MSE (0 + 1 + 4) / 3; differences [0, 0] vs [1, 1]: MSE 1
    assert TemporalLoss(lam=0.5)(p, y).item() == pytest.approx(5 / 3 + 0.5)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 6, 2, generator=g), torch.randn(4, 6, 2, generator=g)
    torch.testing.assert_close(TemporalLoss(lam=0.0)(a, b), F.mse_loss(a, b))
    torch.testing.assert_close(
        TemporalLoss(lam=1.0, horizon_weights=[1.0] * 6)(a, b), TemporalLoss(lam=1.0)(a, b)
    )
    # [B, H, D]: the mean of the D univariate losses
    uni = [TemporalLoss(lam=2.0)(a[..., d], b[..., d]) for d in range(2)]
    torch.testing.assert_close(TemporalLoss(lam=2.0)(a, b), (uni[0] + uni[1]) / 2)


def test_temporal_horizon_weights_by_hand():
    p, y = torch.zeros(1, 2), torch.tensor([[1.0, 2.0]])
    loss = TemporalLoss(lam=0.0, horizon_weights=[3.0, 1.0])
    assert loss(p, y).item() == pytest.approx((3 * 1 + 1 * 4) / 2)
    with pytest.raises(ValueError, match="horizon_weights has 3 values"):
        TemporalLoss(horizon_weights=[1, 1, 1])(p, y)


# -- combined -------------------------------------------------------------------------
STATS = {"n_classes": 4, "class_counts": [50, 20, 5, 1], "class_prior": [0.5, 0.3, 0.15, 0.05]}


def combined(*overrides: str, **stats):
    """``loss=combined OVERRIDES`` composed by Hydra and built as the runner builds it."""
    from hydra import compose, initialize_config_dir

    from lossbench.registry import config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("config", ["loss=combined", *overrides])
    return build("loss", cfg.loss, **stats)


def test_combined_one_term_is_that_term():
    z, t = _cls(9)
    swap = ["loss@loss.terms.ce=focal", "loss.terms.ce.gamma=1.5", "~loss@loss.terms.mse"]
    _same_value_and_grad(combined(*swap, "loss.weights=[1]"), FocalLoss(gamma=1.5), z, t)


def test_combined_default_is_seed_example_with_components():
    z, t = _cls(10)
    loss = combined()
    torch.testing.assert_close(loss(z, t), 0.7 * CrossEntropyLoss()(z, t) + 0.3 * MSELoss()(z, t))
    parts = loss.components(z, t)
    assert set(parts) == {"ce", "mse"}
    torch.testing.assert_close(parts["mse"], MSELoss()(z, t))


def test_combined_saved_config_holds_the_terms_parameters():
    from hydra import compose, initialize_config_dir

    from lossbench.registry import config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("config", ["loss=combined", "loss.terms.ce.label_smoothing=0.1"])
    assert cfg.loss.terms.ce._target_ == "lossbench.losses.CrossEntropyLoss"
    assert cfg.loss.terms.ce.label_smoothing == 0.1
    assert cfg.loss.terms.mse._target_ == "lossbench.losses.MSELoss"
    assert list(cfg.loss.weights) == [0.7, 0.3]


def test_combined_weights_are_not_normalised_and_stats_reach_terms():
    z, t = _cls(11)
    terms = ["loss@loss.terms.ce=ldam", "loss@loss.terms.mse=logit_adjusted"]
    loss = combined(*terms, "loss.terms.mse.tau=0.5", "loss.weights=[7,3]", **STATS)
    want = 7 * LDAMLoss(class_counts=STATS["class_counts"])(z, t) + 3 * LogitAdjustedLoss(
        tau=0.5, class_prior=STATS["class_prior"]
    )(z, t)
    torch.testing.assert_close(loss(z, t), want)
    swapped = combined(*terms, "loss.terms.mse.tau=0.5", "loss.weights=[0,1]", **STATS)
    want = LogitAdjustedLoss(tau=0.5, class_prior=STATS["class_prior"])(z, t)
    torch.testing.assert_close(swapped(z, t), want)


def test_combined_terms_follow_its_reduction():
    z, t = _cls(15)
    per = combined("loss.reduction=none")(z, t)
    assert per.shape == (z.shape[0],)
    torch.testing.assert_close(combined("loss.reduction=sum")(z, t), per.sum())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["loss.weights=[1.0]"], r"weights has 1 values for 2 terms \(ce, mse\)"),
        (["loss.weights=[-1.0,1.0]"], "non-negative and not all zero"),
        (["loss.weights=[0,0]"], "non-negative and not all zero"),
        (["loss@loss.terms.mse=huber"], "loss.terms.mse fits regression/forecast data"),
    ],
)
def test_combined_rejects_bad_terms(overrides, message):
    with pytest.raises(ConfigError, match=message):
        combined(*overrides, **STATS)


def test_combined_needs_terms():
    with pytest.raises(ValueError, match="terms must map a label to a loss"):
        CombinedLoss(terms={}, weights=[])


def test_combined_user_function_term_and_drw_hook():
    z, t = _cls(12)
    loss = combined(
        "loss@loss.terms.ce=custom",
        "loss.terms.ce._target_=examples.my_loss.poly1_cross_entropy",
        "+loss.terms.ce.epsilon=0.0",
        "loss@loss.terms.mse=ldam",
        "loss.terms.mse.max_margin=0.0",
        "loss.terms.mse.drw_epoch=2",
        "loss.weights=[2,1]",
        **STATS,
    )
    loss.on_epoch_start(2, 5)
    assert loss.terms[1].reweight
    assert loss.schedule_switch_epoch(5) == 2
    assert set(loss.components(z, t)) == {"ce", "mse"}
    ce = F.cross_entropy(z, t)
    torch.testing.assert_close(loss.components(z, t)["ce"], ce)  # poly-1 with epsilon 0 is CE


# -- the user's own loss through build() ------------------------------------------------
def test_plain_function_is_wrapped_with_bound_params():
    z, t = _cls(13)
    loss = build("loss", {"_target_": "examples.my_loss.poly1_cross_entropy", "epsilon": 2.0})
    ce = F.cross_entropy(z, t, reduction="none")
    torch.testing.assert_close(loss(z, t), (ce + 2.0 * (1 - torch.exp(-ce))).mean())
    with pytest.raises(ConfigError, match="unexpected keyword argument 'epsiln'"):
        build("loss", {"_target_": "examples.my_loss.poly1_cross_entropy", "epsiln": 2.0})


def test_scalar_function_supports_only_mean(tmp_path, monkeypatch):
    (tmp_path / "scalar_loss_mod.py").write_text(
        "import torch.nn.functional as F\n"
        "def my_ce(pred, target):\n    return F.cross_entropy(pred, target)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    z, t = _cls(14)
    node = {"_target_": "scalar_loss_mod.my_ce"}
    torch.testing.assert_close(build("loss", node)(z, t), F.cross_entropy(z, t))
    with pytest.raises(ValueError, match="only reduction=mean"):
        build("loss", {**node, "reduction": "none"})(z, t)


def test_unset_custom_target_is_one_line_error():
    with pytest.raises(ConfigError, match=r"loss._target_ is not set"):
        build("loss", {"_target_": "???"})


def test_balanced_mse_auto_sigma_is_a_tenth_of_the_target_std():
    train = torch.tensor([0.0, 1.0, 1.0, 4.0])
    auto = BalancedMSELoss(train_targets=train)
    assert auto.noise_var == pytest.approx((0.1 * float(train.double().std())) ** 2)
    with pytest.raises(ValueError, match="sigma must be > 0 or 'auto'"):
        BalancedMSELoss(sigma="big", train_targets=train)


def test_balanced_mse_matches_the_official_bni_loss():
    """Port of ``bni_loss`` (Ren et al. 2022, jiawei-ren/BalancedMSE) on a numpy histogram."""
    g = torch.Generator().manual_seed(4)
    train = torch.cat([torch.randn(500, generator=g, dtype=torch.float64), torch.rand(20) + 3])
    counts, edges = np.histogram(train.numpy(), bins=30)
    centres = torch.tensor((edges[:-1] + edges[1:]) / 2)
    weights = torch.tensor(counts / counts.sum())
    pred = torch.randn(64, 1, generator=g, dtype=torch.float64)
    target = torch.randn(64, 1, generator=g, dtype=torch.float64)
    for sigma in (0.1, 0.7):
        var = torch.tensor(sigma**2, dtype=torch.float64)
        mse_term = F.mse_loss(pred, target, reduction="none") / 2 / var
        balancing = -0.5 * (pred.expand(-1, 30) - centres).pow(2) / var + weights.log()
        want = ((mse_term + torch.logsumexp(balancing, dim=-1, keepdim=True)) * 2 * var).mean()
        loss = BalancedMSELoss(sigma=sigma, n_bins=30, train_targets=train)
        torch.testing.assert_close(loss(pred[:, 0], target[:, 0]), want)
