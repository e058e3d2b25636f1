"""Focal loss: down-weights easy, well-classified examples (Lin et al. 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lossbench.losses.base import Loss, as_class_logits


def focal_nll(logits: torch.Tensor, target: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-sample ``-(1 - p_t)^gamma * log p_t`` from logits ``[N, C]``.

    ``log p_t`` comes from log-softmax and ``1 - p_t = -expm1(log p_t)`` keeps its
    precision near ``p_t = 1``. For ``gamma < 1`` the derivative of ``(1 - p_t)^gamma``
    is infinite where ``1 - p_t`` is 0 (saturated logits), and autograd would give
    ``inf * 0 = NaN``; below the smallest normal float the base is held at that
    float with zero gradient. The true gradient there is ~0 anyway: the product
    behaves like ``(1 - p_t)^(1 + gamma)``.
    """
    logp = -F.cross_entropy(logits, target, reduction="none")
    one_minus = -torch.expm1(logp)
    tiny = torch.finfo(logits.dtype).tiny
    base = torch.where(one_minus < tiny, torch.full_like(one_minus, tiny), one_minus)
    return -(base**gamma) * logp


def check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0 (0 = cross-entropy), got {gamma}")
    return gamma


class FocalLoss(Loss):
    """Focal loss ``-alpha_t (1 - p_t)^gamma log p_t`` (Lin et al. 2017, "Focal Loss for
    Dense Object Detection", eq. 5), softmax for C logits, sigmoid for one binary logit.

    ``gamma = 0`` and no ``alpha`` is exactly cross-entropy. Finite values and
    gradients also for ``gamma < 1`` and saturated logits (see :func:`focal_nll`).

    Args:
        gamma: focusing parameter, ``>= 0`` (paper default 2).
        alpha: ``None`` (no class weighting); a list, one weight per class index
            (``alpha_t = alpha[y]``); or a scalar in [0, 1] for binary data, as in
            the paper and torchvision: class 1 gets ``alpha``, class 0 ``1 - alpha``.
        reduction: ``none`` (per sample ``[N]``), ``sum``, or ``mean`` =
            ``mean_i(alpha_t * l_i)`` (the plain mean of weighted terms, not divided
            by the sum of the alphas).
        n_classes: supplied by the runner; checks the length of ``alpha``.
    """

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        alpha: float | Sequence[float] | None = None,
        reduction: str = "mean",
        n_classes: int | None = None,
    ) -> None:
        super().__init__(reduction=reduction)
        self.gamma = check_gamma(gamma)
        weights: torch.Tensor | None = None
        if alpha is None:
            pass
        elif isinstance(alpha, (int, float)):
            if not 0.0 <= alpha <= 1.0:
                raise ValueError(f"a scalar alpha must be in [0, 1], got {alpha}")
            if n_classes is not None and n_classes != 2:
                raise ValueError(
                    f"a scalar alpha is defined for binary data (class 1 gets alpha, class 0 "
                    f"1 - alpha); the data has {n_classes} classes: give a list of {n_classes}"
                )
            weights = torch.tensor([1.0 - alpha, float(alpha)])
        else:
            values = [float(a) for a in alpha]
            if any(a < 0 for a in values):
                raise ValueError(f"alpha must be non-negative, got {values}")
            if n_classes is not None and len(values) != n_classes:
                raise ValueError(
                    f"alpha has {len(values)} values but the data has {n_classes} classes"
                )
            weights = torch.tensor(values)
        # a buffer (None when unweighted): ``.to(device)`` moves it with the loss
        self.alpha: torch.Tensor | None
        self.register_buffer("alpha", weights)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = as_class_logits(pred, target)
        loss = focal_nll(logits, target, self.gamma)
        if self.alpha is not None:
            if self.alpha.numel() != logits.shape[-1]:
                raise ValueError(
                    f"alpha has {self.alpha.numel()} values but the logits have "
                    f"{logits.shape[-1]} classes"
                )
            loss = self.alpha.to(loss)[target] * loss
        return self.reduce(loss)
