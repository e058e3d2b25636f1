"""Element-wise regression losses: absolute, Huber, quantile (pinball) and LINEX errors.

Each works on any shape (regression ``[N]``, forecast ``[N, H]`` or ``[N, H, D]``);
``none`` keeps that shape, ``mean`` averages over every element.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lossbench.losses.base import Loss


class MAELoss(Loss):
    """Mean absolute error ``|pred - target|``: the median regressor, robust to outliers."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.reduce((pred - target).abs())


class HuberLoss(Loss):
    """Huber loss (Huber 1964): ``e^2 / 2`` if ``|e| <= delta``, else ``delta (|e| - delta / 2)``.

    Quadratic near zero, linear for outliers; equals ``torch.nn.functional.huber_loss``.
    """

    def __init__(self, *, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if delta <= 0:
            raise ValueError(f"delta must be > 0, got {delta}")
        self.delta = float(delta)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.reduce(F.huber_loss(pred, target, reduction="none", delta=self.delta))


class QuantileLoss(Loss):
    """Pinball (quantile) loss (Koenker & Bassett 1978): ``max(q e, (q - 1) e)``, ``e = y - pred``.

    The 1x convention: at ``q = 0.5`` it is ``|e| / 2`` (half the absolute error;
    some libraries use twice this). Its minimiser is the ``q``-quantile of the
    target distribution.

    With one quantile, ``pred`` has the target's shape. With a list of ``Q``
    quantiles, ``pred`` has one trailing dimension of size ``Q`` (one output per
    quantile) and the loss is the **sum** over quantiles of each pinball loss;
    ``none`` returns that per-target sum, ``mean`` averages it over targets.
    (lossbench's models emit one output per target, so lists are for use outside
    ``lossbench run``.)

    Args:
        q: one quantile in (0, 1) or a list of them.
    """

    def __init__(self, *, q: float | Sequence[float] = 0.5, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        qs = [float(q)] if isinstance(q, (int, float)) else [float(v) for v in q]
        if not qs or any(not 0.0 < v < 1.0 for v in qs):
            raise ValueError(f"q must be a quantile in (0, 1) or a non-empty list of them, got {q}")
        self.register_buffer("q", torch.tensor(qs))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n_q = self.q.numel()
        if n_q == 1:
            error = (target - pred.reshape(target.shape)).unsqueeze(-1)
        elif pred.shape == (*target.shape, n_q):
            error = target.unsqueeze(-1) - pred
        else:
            raise ValueError(
                f"quantile loss with {n_q} quantiles needs predictions of shape "
                f"{(*target.shape, n_q)}, got {tuple(pred.shape)}"
            )
        q = self.q.to(error)
        return self.reduce(torch.maximum(q * error, (q - 1.0) * error).sum(dim=-1))


class LinexLoss(Loss):
    """LINEX loss (Varian 1975): ``b (exp(a e) - a e - 1)`` with ``e = pred - target``.

    Asymmetric: for ``a > 0`` over-prediction costs exponentially, under-prediction
    about linearly (``a < 0`` the reverse); near 0 it is ``b a^2 e^2 / 2``.
    ``exp(a e) - 1`` is computed with ``expm1`` (no cancellation for small errors).
    Beyond ``a e > 30`` the exponential is continued by its tangent line (same
    value and slope at 30), so huge errors give large but finite values and
    gradients instead of overflowing; below that it is exact.

    Args:
        a: asymmetry and curvature, non-zero.
        b: scale, > 0.
    """

    CLIP = 30.0

    def __init__(self, *, a: float = 1.0, b: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if a == 0:
            raise ValueError("a must be non-zero (a > 0 penalises over-prediction more)")
        if b <= 0:
            raise ValueError(f"b must be > 0, got {b}")
        self.a, self.b = float(a), float(b)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        u = self.a * (pred - target)
        uc = u.clamp(max=self.CLIP)
        exp_minus_one = torch.expm1(uc) + torch.exp(uc) * (u - uc)
        return self.reduce(self.b * (exp_minus_one - u))
