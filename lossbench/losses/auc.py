"""Losses that optimise AUROC and average precision directly (binary data).

All four rank the positive class (lossbench's: the minority training class, the one
the ``roc_auc`` / ``average_precision`` metrics score, :func:`lossbench.evaluation.
metrics.positive_class`) above the other. Their score ``h`` is ``sigmoid(s)`` (the
papers' choice, ``score: sigmoid``) or the log-odds ``s`` itself (``score: logit``),
where ``s`` is the positive class's log-odds: ``z_pos - z_neg`` for two logits (what
the metrics rank by; with the paper's single output, ``z`` or ``-z``).

They are not sums of per-sample terms: ``reduction=none`` gives each sample's *share*
``c_i`` with ``mean_i c_i`` = the loss (pair terms split half-half between the two
samples, class means spread over the class), so ``mean`` is the loss and ``sum`` is
``N`` times it. Each may pre-train with cross-entropy for ``pretrain_epochs`` epochs and
switch (the practice the AUC papers recommend, Yuan et al. 2021, sec. 5); best-epoch
selection starts at the switch (:meth:`AUCLoss.schedule_switch_epoch`).

Lossbench's ranking metrics are binary, so these losses refuse data with more classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lossbench.losses.base import Loss, class_nll, is_binary_logit

SCORES = ("sigmoid", "logit")
SURROGATES = ("squared_hinge", "logistic")


def _mean_over(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask``; 0 for an empty mask (a batch without that class)."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


class AUCLoss(Loss):
    """Shared part: positive class, scores, CE pre-training, the binary check."""

    def __init__(
        self,
        *,
        score: str = "sigmoid",
        pretrain_epochs: float = 0,
        reduction: str = "mean",
        n_classes: int | None = None,
        positive_class: int | None = None,
    ) -> None:
        super().__init__(reduction=reduction)
        name = type(self).__name__
        if n_classes is not None and n_classes != 2:
            raise ValueError(
                f"{name} ranks one class above the other and lossbench's AUROC/AP metrics "
                f"are binary, but the dataset has {n_classes} classes; use a binary dataset"
            )
        if score not in SCORES:
            raise ValueError(f"score must be one of {', '.join(SCORES)}, got {score!r}")
        if isinstance(pretrain_epochs, bool) or not (
            0 < pretrain_epochs < 1
            or (pretrain_epochs >= 0 and float(pretrain_epochs).is_integer())
        ):
            raise ValueError(
                "pretrain_epochs must be an integer >= 0 or a fraction of the run in (0, 1), "
                f"got {pretrain_epochs}"
            )
        self.score = score
        self.positive = 1 if positive_class is None else int(positive_class)
        self.pretrain_epochs = pretrain_epochs if pretrain_epochs < 1 else int(pretrain_epochs)
        # set by on_epoch_start (the trainer calls it before every epoch); called on its own,
        # outside a training run, the loss is the AUC loss
        self.pretraining = False

    def schedule_switch_epoch(self, total_epochs: int) -> int | None:
        """The first epoch trained with the AUC loss: ``pretrain_epochs + 1``; for a
        fraction ``f`` of ``E`` epochs ``ceil(f * E) + 1`` (as LDAM's ``drw_epoch``), kept
        within the run (at least the last epoch trains the AUC loss, so a 1-epoch run has
        no pre-training); ``None`` without CE pre-training."""
        if not self.pretrain_epochs:
            return None
        if self.pretrain_epochs >= 1:
            return int(self.pretrain_epochs) + 1
        ce_epochs = min(math.ceil(round(self.pretrain_epochs * total_epochs, 9)), total_epochs - 1)
        return ce_epochs + 1 if ce_epochs > 0 else None

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        """Cross-entropy before :meth:`schedule_switch_epoch`, the AUC loss from it on."""
        switch = self.schedule_switch_epoch(epochs)
        self.pretraining = switch is not None and epoch < switch

    def log_odds(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The positive class's log-odds ``[N]``."""
        if is_binary_logit(pred, target):
            z = pred.reshape(target.shape)
            return z if self.positive == 1 else -z
        if pred.ndim != 2 or pred.shape[-1] != 2:
            raise ValueError(f"{type(self).__name__} needs 2 logits per sample, got {pred.shape}")
        return pred[:, self.positive] - pred[:, 1 - self.positive]

    def scores(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        s = self.log_odds(pred, target)
        return torch.sigmoid(s) if self.score == "sigmoid" else s

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.pretraining:
            return self.reduce(class_nll(pred, target))
        pos = (target == self.positive).to(pred.dtype)
        return self.reduce(self.shares(self.scores(pred, target), pos, index))

    def shares(
        self, h: torch.Tensor, pos: torch.Tensor, index: torch.Tensor | None
    ) -> torch.Tensor:
        """Each sample's share ``[N]`` of the loss (their mean is the loss)."""
        raise NotImplementedError


class AUCMarginLoss(AUCLoss):
    """AUC-margin (AUC-M) min-max loss (Yuan et al. 2021, "Large-scale Robust Deep AUC
    Maximization", eq. 6; LibAUC ``AUCMLoss``).

    ``prior: false`` (LibAUC's ``v2``)::

        E_+[(h - a)^2] + E_-[(h - b)^2] + 2 alpha (m + E_-[h] - E_+[h]) - alpha^2

    ``prior: true`` (the paper's form, LibAUC ``v1``), with ``p`` the positive class's
    training prior (LibAUC re-estimates ``p`` in every batch by default)::

        E[(1-p)(h-a)^2 I+ + p(h-b)^2 I- + 2 alpha (p(1-p) m + p h I- - (1-p) h I+)] - p(1-p) alpha^2

    ``a``, ``b`` (minimised) and ``alpha`` (maximised, ``maximize = ("alpha",)``) are
    parameters of the loss, trained with the model: the trainer reverses alpha's gradient,
    so any optimizer does descent-ascent (``optimizer=pesg`` is the paper's). ``alpha`` is
    projected onto ``alpha >= 0`` (projected ascent; done before each use). At the saddle
    ``a = E_+[h]``, ``b = E_-[h]``, ``alpha = max(0, m + E_-[h] - E_+[h])`` and the loss is
    ``Var_+(h) + Var_-(h) + max(0, m - (E_+[h] - E_-[h]))^2``: a squared hinge on the
    gap between the class means plus the class variances.
    """

    maximize = ("alpha",)
    project_alpha = True
    # its value at fixed (a, b, alpha), e.g. the initial zeros, is not least for a perfect
    # ranking; only the min-max value is (``lossbench check`` skips that check)
    minimum_at_target = False

    def __init__(
        self,
        *,
        margin: float = 1.0,
        prior: bool = False,
        score: str = "sigmoid",
        pretrain_epochs: float = 0,
        reduction: str = "mean",
        n_classes: int | None = None,
        positive_class: int | None = None,
        class_prior: Sequence[float] | None = None,
    ) -> None:
        super().__init__(
            score=score,
            pretrain_epochs=pretrain_epochs,
            reduction=reduction,
            n_classes=n_classes,
            positive_class=positive_class,
        )
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = float(margin)
        self.prior = bool(prior)
        if self.prior:
            if class_prior is None:
                raise ValueError("prior=true needs the training statistic class_prior")
            self.p = float(class_prior[self.positive])
            if not 0 < self.p < 1:
                raise ValueError(f"prior=true needs both classes in training, p={self.p}")
        self.a = nn.Parameter(torch.zeros(()))
        self.b = nn.Parameter(torch.zeros(()))
        self.alpha = nn.Parameter(torch.zeros(()))

    def shares(
        self, h: torch.Tensor, pos: torch.Tensor, index: torch.Tensor | None
    ) -> torch.Tensor:
        if self.project_alpha and bool(self.alpha.detach().lt(0).any()):
            with torch.no_grad():  # projected ascent: alpha onto alpha >= 0, before its use
                self.alpha.clamp_(min=0)
        a, b, alpha, m = self.a, self.b, self.alpha, self.margin
        neg = 1 - pos
        if self.prior:
            p = self.p
            return (
                (1 - p) * (h - a) ** 2 * pos
                + p * (h - b) ** 2 * neg
                + 2 * alpha * (p * (1 - p) * m + p * h * neg - (1 - p) * h * pos)
                - p * (1 - p) * alpha**2
            )
        n = h.new_tensor(float(h.numel()))
        n_pos, n_neg = pos.sum().clamp(min=1), neg.sum().clamp(min=1)
        per_pos = ((h - a) ** 2 - 2 * alpha * h) * pos * (n / n_pos)
        per_neg = ((h - b) ** 2 + 2 * alpha * h) * neg * (n / n_neg)
        return per_pos + per_neg + 2 * alpha * m - alpha**2


class AUCSquareLoss(AUCMarginLoss):
    """Square-loss AUC objective (Ying, Wen & Lyu 2016, "Stochastic Online AUC
    Maximization", eq. 4): the mean over positive-negative pairs of ``(m - (h_i - h_j))^2``,
    written as the same min-max problem as :class:`AUCMarginLoss` with ``alpha``
    unconstrained (no projection): at the saddle it equals the pairwise mean exactly,
    ``Var_+ + Var_- + (m - (E_+ - E_-))^2``. Unlike the margin version it also
    penalises a gap wider than ``m``.
    """

    project_alpha = False


class AUCPairwiseLoss(AUCLoss):
    """Pairwise AUC surrogate over the batch's positive-negative pairs: the mean of
    ``l(h_i - h_j)`` over positives ``i`` and negatives ``j`` (Zhu et al. 2022,
    "Benchmarking Deep AUROC Optimization"; LibAUC ``PairwiseAUCLoss``), with
    ``squared_hinge``: ``max(0, m - d)^2`` (zero once every positive outscores every
    negative by ``m``), or ``logistic``: ``log(1 + exp(-d))`` (RankNet; ``margin`` unused).
    A batch without positives or negatives has no pairs: loss 0.
    """

    def __init__(
        self,
        *,
        surrogate: str = "squared_hinge",
        margin: float = 1.0,
        score: str = "sigmoid",
        pretrain_epochs: float = 0,
        reduction: str = "mean",
        n_classes: int | None = None,
        positive_class: int | None = None,
    ) -> None:
        super().__init__(
            score=score,
            pretrain_epochs=pretrain_epochs,
            reduction=reduction,
            n_classes=n_classes,
            positive_class=positive_class,
        )
        if surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {', '.join(SURROGATES)}, got {surrogate!r}")
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.surrogate = surrogate
        self.margin = float(margin)

    def pair_losses(self, d: torch.Tensor) -> torch.Tensor:
        if self.surrogate == "squared_hinge":
            return F.relu(self.margin - d) ** 2
        return F.softplus(-d)

    def shares(
        self, h: torch.Tensor, pos: torch.Tensor, index: torch.Tensor | None
    ) -> torch.Tensor:
        neg = 1 - pos
        pairs = self.pair_losses(h[:, None] - h[None, :]) * pos[:, None] * neg[None, :]
        n_pairs = (pos.sum() * neg.sum()).clamp(min=1)
        # each pair's loss, half to its positive (row) and half to its negative (column)
        return (pairs.sum(1) + pairs.sum(0)) * (h.numel() / (2 * n_pairs))


class AveragePrecisionLoss(AUCLoss):
    """SOAP: stochastic optimisation of average precision (Qi et al. 2021, "Stochastic
    Optimization of Areas Under Precision-Recall Curves with Provable Convergence",
    Alg. 1; LibAUC ``APLoss``).

    For a positive ``i`` the surrogate AP term is ``u_pos_i / u_all_i`` with
    ``u_all_i = mean_s l(h_i - h_s)`` and ``u_pos_i = mean_s I(y_s = +) l(h_i - h_s)``,
    ``l(d) = max(0, m - d)^2``. In training (``index`` given: the batch's training-row
    indices) both are moving averages kept per training sample,
    ``u <- (1 - gamma) u + gamma u_batch`` (``gamma`` weighs the new value, as in LibAUC),
    updated only at the batch's positives, and the gradient is SOAP's,
    ``mean_i mean_s [(u_pos_i - u_all_i I(y_s=+)) / u_all_i^2] grad l_is``; the value
    reported is ``1 - mean_i u_pos_i / u_all_i`` over the batch's positives. Without
    ``index`` (validation, test) the u's are the batch's own and the loss is the exact,
    differentiable ``1 - mean_i u_pos_i / u_all_i``; the state is not touched.
    """

    def __init__(
        self,
        *,
        gamma: float = 0.9,
        margin: float = 1.0,
        score: str = "sigmoid",
        pretrain_epochs: float = 0,
        reduction: str = "mean",
        n_classes: int | None = None,
        positive_class: int | None = None,
        n_train: int | None = None,
    ) -> None:
        super().__init__(
            score=score,
            pretrain_epochs=pretrain_epochs,
            reduction=reduction,
            n_classes=n_classes,
            positive_class=positive_class,
        )
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        if margin <= 0:
            raise ValueError(f"margin must be > 0 (u_all > 0 needs it), got {margin}")
        if n_train is None or n_train < 1:
            raise ValueError("average_precision needs the training statistic n_train")
        self.gamma = float(gamma)
        self.margin = float(margin)
        self.register_buffer("u_all", torch.zeros(int(n_train)))
        self.register_buffer("u_pos", torch.zeros(int(n_train)))

    def shares(
        self, h: torch.Tensor, pos: torch.Tensor, index: torch.Tensor | None
    ) -> torch.Tensor:
        is_pos = pos.bool()
        n_pos = int(is_pos.sum())
        if n_pos == 0:
            return h * 0.0
        surr = F.relu(self.margin - (h[is_pos, None] - h[None, :])) ** 2  # [P, N]
        all_b, pos_b = surr.mean(1), (surr * pos[None, :]).mean(1)
        if index is None:
            ratio = pos_b / all_b
            per_pos = 1 - ratio
        else:
            rows = index.to(self.u_all.device)[is_pos.to(self.u_all.device)]
            g = self.gamma
            with torch.no_grad():
                u_all = (1 - g) * self.u_all[rows] + g * all_b.detach().to(self.u_all)
                u_pos = (1 - g) * self.u_pos[rows] + g * pos_b.detach().to(self.u_pos)
                self.u_all[rows] = u_all
                self.u_pos[rows] = u_pos
                u_all, u_pos = u_all.to(h), u_pos.to(h)
                weight = (u_pos[:, None] - u_all[:, None] * pos[None, :]) / u_all[:, None] ** 2
            grad = (weight * surr).mean(1)  # SOAP's gradient, mean_s per positive
            per_pos = (1 - u_pos / u_all) + (grad - grad.detach())
        out = torch.zeros_like(h)
        return out.masked_scatter(is_pos, per_pos * (h.numel() / n_pos))
