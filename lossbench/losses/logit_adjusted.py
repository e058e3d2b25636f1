"""Prior-corrected softmax losses for long-tailed classes: logit adjustment and balanced softmax."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lossbench.losses.base import Loss, as_class_logits, counts_of


class LogitAdjustedLoss(Loss):
    """Logit-adjusted cross-entropy ``CE(z + tau * log pi, y)`` (Menon et al. 2021,
    "Long-tail learning via logit adjustment", eq. 15).

    Adding ``tau log pi`` during training makes the model's own logits ``z``
    estimate the balanced (prior-free) class score, so ``argmax z`` suits a
    balanced test metric. Under a uniform prior it equals cross-entropy. For a
    post-hoc correction of any trained model use ``eval.posthoc_tau`` instead.

    Args:
        tau: temperature of the adjustment (1 = the Bayes-consistent choice).
        reduction: ``none`` (``[N]``), ``sum``, ``mean`` (over samples).
        class_prior: training class frequencies, supplied by the runner.
    """

    def __init__(
        self,
        *,
        tau: float = 1.0,
        reduction: str = "mean",
        class_prior: Sequence[float] | None = None,
    ) -> None:
        super().__init__(reduction=reduction)
        prior = counts_of(class_prior, "logit_adjusted", "class_prior")
        self.tau = float(tau)
        self.register_buffer("log_prior", torch.tensor([math.log(p) for p in prior]))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = as_class_logits(pred, target) + self.tau * self.log_prior.to(pred.dtype)
        return F.cross_entropy(logits, target, reduction=self.reduction)


class BalancedSoftmaxLoss(Loss):
    """Balanced softmax ``CE(z + log n_c, y)`` (Ren et al. 2020, "Balanced Meta-Softmax for
    Long-Tailed Visual Recognition", eq. 4).

    The softmax is re-weighted by the training class counts; ``log n_c`` and
    ``log pi_c`` differ by a constant, so this equals logit adjustment with
    ``tau = 1``, and cross-entropy when the classes are balanced.

    Args:
        reduction: ``none`` (``[N]``), ``sum``, ``mean`` (over samples).
        class_counts: supplied by the runner from the training split.
    """

    def __init__(
        self, *, reduction: str = "mean", class_counts: Sequence[int] | None = None
    ) -> None:
        super().__init__(reduction=reduction)
        counts = counts_of(class_counts, "balanced_softmax")
        self.register_buffer("log_counts", torch.tensor([math.log(n) for n in counts]))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = as_class_logits(pred, target) + self.log_counts.to(pred.dtype)
        return F.cross_entropy(logits, target, reduction=self.reduction)
