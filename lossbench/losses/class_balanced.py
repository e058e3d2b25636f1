"""Class-balanced loss: re-weight classes by their effective number of samples (Cui et al. 2019)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from lossbench.losses.base import Loss, as_class_logits, class_nll, counts_of
from lossbench.losses.focal import check_gamma, focal_nll

BASES = ("ce", "focal")


def effective_number_weights(class_counts: Sequence[float], beta: float) -> list[float]:
    """``w_c = (1 - beta) / (1 - beta^n_c)``, normalised to sum to the number of classes.

    Cui et al. 2019, "Class-Balanced Loss Based on Effective Number of Samples",
    eq. 8. ``beta = 0`` gives uniform weights, ``beta -> 1`` inverse frequency.
    ``1 - beta^n`` is computed as ``-expm1(n log beta)``: exact for beta near 1.
    """
    beta = float(beta)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    counts = counts_of(class_counts, "the class-balanced weights")
    if beta == 0.0:
        raw = [1.0] * len(counts)
    else:
        raw = [(1.0 - beta) / -math.expm1(n * math.log(beta)) for n in counts]
    total = sum(raw)
    return [w * len(counts) / total for w in raw]


class ClassBalancedLoss(Loss):
    """Cross-entropy or softmax focal loss weighted by class-balanced weights.

    ``l_i = w[y_i] * base(z_i, y_i)`` with ``w`` from :func:`effective_number_weights`
    (Cui et al. 2019). ``beta`` must be close to 1 (0.99-0.9999) to matter on
    realistic counts; ``beta = 0`` is the unweighted base loss.

    Args:
        beta: in [0, 1).
        base: ``ce`` or ``focal`` (softmax focal; the paper also reports sigmoid focal).
        gamma: focusing parameter of the focal base.
        reduction: ``none`` (``[N]``), ``sum``, or ``mean`` = ``mean_i(w[y_i] * l_i)``
            as in the paper's code (sum of weighted terms over the batch size, not
            over the sum of weights).
        class_counts: supplied by the runner from the training split.
    """

    def __init__(
        self,
        *,
        beta: float = 0.999,
        base: str = "ce",
        gamma: float = 2.0,
        reduction: str = "mean",
        class_counts: Sequence[int] | None = None,
    ) -> None:
        super().__init__(reduction=reduction)
        if base not in BASES:
            raise ValueError(f"base must be one of {', '.join(BASES)}, got {base!r}")
        self.base, self.gamma = base, check_gamma(gamma)
        self.register_buffer("weights", torch.tensor(effective_number_weights(class_counts, beta)))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.base == "ce":
            per = class_nll(pred, target)
        else:
            per = focal_nll(as_class_logits(pred, target), target, self.gamma)
        return self.reduce(self.weights.to(per)[target] * per)
