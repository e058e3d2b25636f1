"""Cross-entropy, the classification baseline, and its label-smoothed form."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lossbench.losses.base import Loss, as_class_logits, class_nll, is_binary_logit


class CrossEntropyLoss(Loss):
    """Cross-entropy on logits: ``-log softmax(z)_y``, or ``-log sigmoid(+-z)`` for one logit.

    Equals ``torch.nn.functional.cross_entropy`` (or
    ``binary_cross_entropy_with_logits`` for one logit per sample).
    ``label_smoothing = eps > 0`` trains against the smoothed target
    ``(1 - eps) one_hot(y) + eps / C`` (Szegedy et al. 2016, "Rethinking the
    Inception Architecture", sec. 7): ``(1 - eps) (-log p_y) + eps mean_c(-log p_c)``,
    computed by torch's ``cross_entropy(label_smoothing=eps)``.
    ``mean`` averages over samples; ``none`` is per sample ``[N]``.
    """

    def __init__(self, *, label_smoothing: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if is_binary_logit(pred, target):
            if self.label_smoothing == 0.0:
                return self.reduce(class_nll(pred, target))
            pred = as_class_logits(pred, target)
        return F.cross_entropy(
            pred, target, reduction=self.reduction, label_smoothing=self.label_smoothing
        )


class LabelSmoothingLoss(CrossEntropyLoss):
    """Label-smoothed cross-entropy (Szegedy et al. 2016): ``ce`` with ``label_smoothing=epsilon``.

    Per sample ``(1 - epsilon) (-log p_y) + epsilon mean_c(-log p_c)``; ``mean``
    averages over samples. Its minimum is not at infinite margin: the model is
    kept from becoming over-confident.
    """

    def __init__(self, *, epsilon: float = 0.1, reduction: str = "mean") -> None:
        super().__init__(label_smoothing=epsilon, reduction=reduction)
