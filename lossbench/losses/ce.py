"""Cross-entropy, the classification baseline."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lossbench.losses.base import Loss, class_nll, is_binary_logit


class CrossEntropyLoss(Loss):
    """Cross-entropy on logits: ``-log softmax(z)_y``, or ``-log sigmoid(+-z)`` for one logit.

    Equals ``torch.nn.functional.cross_entropy`` (or
    ``binary_cross_entropy_with_logits`` for one logit per sample).
    ``mean`` averages over samples.
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if is_binary_logit(pred, target):
            return self.reduce(class_nll(pred, target))
        return F.cross_entropy(pred, target, reduction=self.reduction)
