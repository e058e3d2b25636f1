"""MSE plus a penalty on the error of first differences: a forecast must follow the changes."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lossbench.losses.base import Loss


class TemporalLoss(Loss):
    """``MSE(pred, y) + lam * MSE(diff(pred), diff(y))`` along the horizon (dim 1).

    The tutorial's time-related penalty: the difference term compares step-to-step
    changes, so a forecast with the right level but the wrong shape is penalised
    (a first-order derivative/gradient-matching loss; cf. the temporal term of
    DILATE, Le Guen & Thome 2019, for a timing-aware alternative).

    Works on ``[B, H]`` and ``[B, H, D]``. ``horizon_weights`` (``H`` non-negative
    values, used as given) weight the squared error of each step:
    ``mean_{h,d}(w_h e_{h,d}^2)``; all ones is plain MSE. The difference term is
    unweighted. ``none`` returns one value per series ``[B]``: the first term
    averaged over its ``H*D`` elements plus ``lam`` times the second averaged over
    ``(H-1)*D`` (0 when ``H = 1``); ``mean`` averages that over the batch, which
    equals ``MSE + lam * MSE_diff`` over the batch.

    Args:
        lam: weight of the difference term, >= 0 (0 = MSE).
        horizon_weights: ``None`` or one weight per horizon step.
    """

    def __init__(
        self,
        *,
        lam: float = 1.0,
        horizon_weights: Sequence[float] | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=reduction)
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        self.lam = float(lam)
        buffer: torch.Tensor | None = None
        if horizon_weights is not None:
            weights = [float(w) for w in horizon_weights]
            if not weights or any(w < 0 for w in weights):
                raise ValueError(f"horizon_weights must be non-negative, got {weights}")
            buffer = torch.tensor(weights)
        # a buffer (None when unweighted): ``.to(device)`` moves it with the loss
        self.horizon_weights: torch.Tensor | None
        self.register_buffer("horizon_weights", buffer)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.ndim < 2:
            raise ValueError(
                f"temporal needs forecasts of shape [B, H] or [B, H, D], got {tuple(target.shape)}"
            )
        pred = pred.reshape(target.shape)
        sq = (pred - target) ** 2
        if self.horizon_weights is not None:
            w = self.horizon_weights.to(sq)
            if w.numel() != sq.shape[1]:
                raise ValueError(
                    f"horizon_weights has {w.numel()} values but the horizon is {sq.shape[1]}"
                )
            sq = sq * w.reshape(1, -1, *([1] * (sq.ndim - 2)))
        per_series = sq.flatten(1).mean(dim=1)
        if target.shape[1] > 1 and self.lam > 0:
            d_err = torch.diff(pred, dim=1) - torch.diff(target, dim=1)
            per_series = per_series + self.lam * (d_err**2).flatten(1).mean(dim=1)
        return self.reduce(per_series)
