"""AUROC / AP losses: values on hand-computed batches, the min-max saddle, the pairwise
margin, SOAP's per-sample state and gradient (against a port of LibAUC), float64 gradients."""

from __future__ import annotations

import math

import pytest
import torch

from lossbench.losses import AUCMarginLoss, AUCPairwiseLoss, AUCSquareLoss, AveragePrecisionLoss
from lossbench.training.loss_params import loss_parameters, wants_index
from tests.libauc_reference import APLossReference, aucm_v1


def _logit(h: list[float]) -> torch.Tensor:
    """Single binary logits whose sigmoid scores are ``h``."""
    p = torch.tensor(h, dtype=torch.float64)
    return torch.log(p) - torch.log1p(-p)


H = [0.9, 0.6, 0.2, 0.4]
Y = torch.tensor([1, 1, 0, 0])


def _set(loss: AUCMarginLoss, a: float, b: float, alpha: float) -> AUCMarginLoss:
    loss = loss.double()
    with torch.no_grad():
        loss.a.fill_(a), loss.b.fill_(b), loss.alpha.fill_(alpha)
    return loss


def test_auc_margin_hand_value():
    # E+(h-a)^2 = (0.2^2 + 0.1^2)/2 = 0.025; E-(h-b)^2 = (0.1^2 + 0.1^2)/2 = 0.01;
    # 2 alpha (m + E-h - E+h) = 2*0.5*(1 + 0.3 - 0.75) = 0.55; -alpha^2 = -0.25
    loss = _set(AUCMarginLoss(n_classes=2), a=0.7, b=0.3, alpha=0.5)
    torch.testing.assert_close(loss(_logit(H), Y), torch.tensor(0.335, dtype=torch.float64))
    per = _set(AUCMarginLoss(reduction="none"), 0.7, 0.3, 0.5)(_logit(H), Y)
    torch.testing.assert_close(per.mean(), torch.tensor(0.335, dtype=torch.float64))


def test_auc_margin_two_logits_rank_the_positive_class_log_odds():
    """Two logits: the score is sigmoid(z_pos - z_neg); positive_class=0 flips the roles."""
    z = _logit(H)
    two = torch.stack([torch.zeros_like(z), z], 1) + 3.0  # a shift common to both logits
    loss = _set(AUCMarginLoss(), 0.7, 0.3, 0.5)
    torch.testing.assert_close(loss(two, Y), loss(z, Y))
    flipped = _set(AUCMarginLoss(positive_class=0), 0.7, 0.3, 0.5)
    torch.testing.assert_close(flipped(two.flip(1), 1 - Y), loss(z, Y))


def test_auc_margin_prior_version_equals_libauc_v1():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(12, generator=g, dtype=torch.float64)
    y = (torch.rand(12, generator=g) < 0.3).long()
    y[:2] = torch.tensor([0, 1])
    loss = _set(AUCMarginLoss(prior=True, margin=0.7, class_prior=[0.8, 0.2]), 0.4, -0.2, 0.3)
    ref = aucm_v1(torch.sigmoid(z), y, 0.4, -0.2, 0.3, 0.7, 0.2)
    torch.testing.assert_close(loss(z, y), ref)


def _saddle(h: torch.Tensor, y: torch.Tensor, m: float) -> tuple[float, float, float]:
    hp, hn = h[y == 1], h[y == 0]
    return float(hp.mean()), float(hn.mean()), m + float(hn.mean() - hp.mean())


@pytest.mark.parametrize("m", [1.0, 0.2])
def test_min_max_saddle_closed_form(m):
    """At a = E+h, b = E-h the loss is concave in alpha with its maximum at
    alpha* = max(0, m + E-h - E+h) (AUC-M) or the unprojected value (square loss), and the
    value there is Var+ + Var- + hinge^2 (AUC-M) / the mean pairwise square loss."""
    h = torch.tensor(H, dtype=torch.float64)
    a, b, free = _saddle(h, Y, m)
    var = float(h[Y == 1].var(unbiased=False) + h[Y == 0].var(unbiased=False))
    gap = float(h[Y == 1].mean() - h[Y == 0].mean())  # 0.45
    for cls, alpha_star, value in (
        (AUCMarginLoss, max(0.0, free), var + max(0.0, m - gap) ** 2),
        (AUCSquareLoss, free, float(((m - (h[:2, None] - h[None, 2:])) ** 2).mean())),
    ):
        loss = _set(cls(margin=m), a, b, alpha_star)
        out = loss(_logit(H), Y)
        torch.testing.assert_close(out, torch.tensor(value, dtype=torch.float64))
        grads = torch.autograd.grad(out, [loss.a, loss.b, loss.alpha])
        for g in grads[:2]:
            assert abs(float(g)) < 1e-12
        if alpha_star > 0:
            assert abs(float(grads[2])) < 1e-12
        for step in (-0.05, 0.05):  # a maximum in alpha (on alpha >= 0 for AUC-M)
            if cls is AUCMarginLoss and alpha_star + step < 0:
                continue
            other = _set(cls(margin=m), a, b, alpha_star + step)(_logit(H), Y)
            assert float(other.detach()) < value


def test_descent_ascent_finds_the_saddle():
    """The trainer's contract: ``maximize`` reverses alpha's gradient, so plain SGD on
    (a, b, alpha) converges to a = E+h, b = E-h, alpha = m + E-h - E+h."""
    loss = AUCMarginLoss(margin=1.0).double()
    params = loss_parameters([loss])
    assert len(params) == 3 and loss_parameters([loss]) == params  # hook installed once
    opt = torch.optim.SGD(params, lr=0.05)
    z = _logit(H)
    for _ in range(2000):
        opt.zero_grad()
        loss(z, Y).backward()
        opt.step()
    a, b, alpha = _saddle(torch.tensor(H, dtype=torch.float64), Y, 1.0)
    for p, want in ((loss.a, a), (loss.b, b), (loss.alpha, alpha)):
        assert abs(float(p.detach()) - want) < 1e-6, (p, want)


def test_alpha_is_projected_onto_nonnegative():
    loss = _set(AUCMarginLoss(margin=0.0), 0.75, 0.3, -0.4)
    loss(_logit(H), Y)
    assert float(loss.alpha) == 0.0
    square = _set(AUCSquareLoss(margin=0.0), 0.75, 0.3, -0.4)
    square(_logit(H), Y)
    assert float(square.alpha) == -0.4  # the square loss's alpha is free


def test_pairwise_hand_value_and_zero_beyond_the_margin():
    # logit scores, margin 1: pairs (pos - neg) = 0.5, 2, 1.5, 3 -> hinge^2 = 0.25, 0, 0, 0
    s = torch.tensor([2.0, 3.5, 1.5, 0.0], dtype=torch.float64)
    y = torch.tensor([1, 1, 0, 0])
    loss = AUCPairwiseLoss(score="logit", margin=1.0)
    torch.testing.assert_close(loss(s, y), torch.tensor(0.25 / 4, dtype=torch.float64))
    logistic = AUCPairwiseLoss(score="logit", surrogate="logistic")
    want = sum(math.log1p(math.exp(-d)) for d in (0.5, 2.0, 2.0, 3.5)) / 4
    torch.testing.assert_close(logistic(s, y), torch.tensor(want, dtype=torch.float64))
    apart = torch.tensor([3.0, 2.0, 1.0, -5.0], dtype=torch.float64)  # every gap >= 1
    assert float(loss(apart, y)) == 0.0
    assert float(AUCPairwiseLoss(score="logit", margin=1.01)(apart, y)) > 0
    # sigmoid scores (default), margin 0.5
    sig = AUCPairwiseLoss(margin=0.5)
    assert float(sig(_logit([0.95, 0.9, 0.3, 0.1]), y)) == 0.0
    assert float(sig(_logit([0.95, 0.7, 0.3, 0.1]), y)) > 0


def test_pairwise_batch_without_negatives_is_zero():
    loss = AUCPairwiseLoss()
    z = torch.randn(4, requires_grad=True)
    out = loss(z, torch.ones(4, dtype=torch.long))
    out.backward()
    assert float(out) == 0.0 and torch.all(z.grad == 0)


def test_binary_only_and_bad_options():
    with pytest.raises(ValueError, match="3 classes"):
        AUCMarginLoss(n_classes=3)
    with pytest.raises(ValueError, match="surrogate must be"):
        AUCPairwiseLoss(surrogate="hinge")
    with pytest.raises(ValueError, match="n_train"):
        AveragePrecisionLoss()
    with pytest.raises(ValueError, match="gamma"):
        AveragePrecisionLoss(n_train=5, gamma=0)
    with pytest.raises(ValueError, match="class_prior"):
        AUCMarginLoss(prior=True)


def test_soap_matches_libauc_and_updates_only_the_given_positives():
    """Three training steps on batches of a 10-row training set: the state u_all, u_pos
    and the gradient equal LibAUC's APLoss (ported); rows not in a batch, and negative
    rows, keep their state."""
    g = torch.Generator().manual_seed(3)
    y_train = torch.tensor([1, 0, 0, 1, 0, 0, 1, 0, 0, 0])
    loss = AveragePrecisionLoss(n_train=10, gamma=0.7, margin=0.8).double()
    ref = APLossReference(10, gamma=0.7, margin=0.8)
    assert wants_index(loss)
    touched = set()
    for idx in ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [9, 3, 1, 6, 0]):
        index = torch.tensor(idx)
        z = torch.randn(5, generator=g, dtype=torch.float64, requires_grad=True)
        out = loss(z, y_train[index], index=index)
        (grad,) = torch.autograd.grad(out, z)
        z_ref = z.detach().clone().requires_grad_(True)
        (grad_ref,) = torch.autograd.grad(ref(torch.sigmoid(z_ref), y_train[index], index), z_ref)
        torch.testing.assert_close(grad, grad_ref)
        torch.testing.assert_close(loss.u_all, ref.u_all[:, 0])
        torch.testing.assert_close(loss.u_pos, ref.u_pos[:, 0])
        touched |= {i for i in idx if y_train[i] == 1}
        untouched = [i for i in range(10) if i not in touched]
        assert torch.all(loss.u_all[untouched] == 0) and torch.all(loss.u_pos[untouched] == 0)
        # the value: 1 - mean over the batch's positives of u_pos / u_all
        rows = index[y_train[index] == 1]
        want = 1 - (loss.u_pos[rows] / loss.u_all[rows]).mean()
        torch.testing.assert_close(out.detach(), want)


def test_soap_without_index_is_the_batch_surrogate_and_leaves_state():
    """Validation: u's from the batch itself, 1 - mean u_pos/u_all, state untouched;
    the value is an exact function of the scores (float64 gradcheck)."""
    loss = AveragePrecisionLoss(n_train=6, margin=1.0).double()
    z = torch.tensor([2.0, -1.0, 0.5, -2.0, 1.0, 0.0], dtype=torch.float64)
    y = torch.tensor([1, 0, 1, 0, 0, 0])
    h = torch.sigmoid(z)
    hinge = torch.relu(1.0 - (h[y == 1][:, None] - h[None, :])) ** 2
    want = 1 - ((hinge * (y == 1)).mean(1) / hinge.mean(1)).mean()
    torch.testing.assert_close(loss(z, y), want)
    assert torch.all(loss.u_all == 0)
    assert torch.autograd.gradcheck(lambda x: loss(x, y), (z.clone().requires_grad_(True),))


@pytest.mark.parametrize("cls", [AUCMarginLoss, AUCSquareLoss, AUCPairwiseLoss])
def test_gradcheck_float64_with_loss_parameters(cls):
    """Gradients with respect to the scores and the loss's own parameters (a, b, alpha)."""
    loss = cls().double()
    if isinstance(loss, AUCMarginLoss):
        _set(loss, 0.3, -0.1, 0.2)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(8, 2, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 0, 0, 1, 0, 0, 0])
    names = [n for n, _ in loss.named_parameters()]

    def f(x, *ps):
        return torch.func.functional_call(loss, dict(zip(names, ps, strict=True)), (x, y))

    inputs = (z, *(p.detach().clone().requires_grad_(True) for p in loss.parameters()))
    assert torch.autograd.gradcheck(f, inputs)


def test_pretraining_is_cross_entropy_until_the_switch():
    loss = AUCPairwiseLoss(pretrain_epochs=3)
    assert loss.schedule_switch_epoch(10) == 4
    z, y = torch.randn(6, 2), torch.tensor([0, 1, 0, 0, 1, 0])
    loss.on_epoch_start(3, 10)
    ce = torch.nn.functional.cross_entropy(z, y)
    torch.testing.assert_close(loss(z, y), ce)
    loss.on_epoch_start(4, 10)
    torch.testing.assert_close(loss(z, y), AUCPairwiseLoss()(z, y))
    assert AUCPairwiseLoss().schedule_switch_epoch(10) is None


def test_pretraining_as_a_fraction_of_the_run():
    loss = AUCMarginLoss(pretrain_epochs=0.2)
    assert loss.schedule_switch_epoch(50) == 11 and loss.schedule_switch_epoch(7) == 3
    assert loss.schedule_switch_epoch(1) is None  # a fraction leaves the last epoch to the loss
    assert AUCMarginLoss(pretrain_epochs=0.9).schedule_switch_epoch(3) == 3
    loss.on_epoch_start(10, 50)
    assert loss.pretraining
    loss.on_epoch_start(11, 50)
    assert not loss.pretraining
    for bad in (1.5, -1, True):
        with pytest.raises(ValueError, match="pretrain_epochs"):
            AUCMarginLoss(pretrain_epochs=bad)
