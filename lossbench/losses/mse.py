"""Mean squared error, the regression baseline (the Brier score on class logits)."""

from __future__ import annotations

import torch

from lossbench.losses.base import Loss, is_binary_logit


class MSELoss(Loss):
    """Squared error ``(pred - target)^2``.

    On classification data (integer targets) the prediction is the softmax
    probability vector (sigmoid for one binary logit) and the target is one-hot:
    the per-sample loss is the Brier score ``sum_c (p_c - y_c)^2``. This makes
    the seed's combined ``0.7 CE + 0.3 MSE`` a classification loss.

    ``mean`` averages over samples (classification) or over all elements
    (regression, forecast).
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.dtype.is_floating_point:
            return self.reduce((pred - target) ** 2)
        if is_binary_logit(pred, target):
            prob = torch.sigmoid(pred.reshape(target.shape))
            return self.reduce(2.0 * (prob - target.to(prob.dtype)) ** 2)
        prob = torch.softmax(pred, dim=-1)
        onehot = torch.nn.functional.one_hot(target, pred.shape[-1]).to(prob.dtype)
        return self.reduce(((prob - onehot) ** 2).sum(dim=-1))
