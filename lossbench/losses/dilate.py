"""DILATE: shape (soft-DTW) plus temporal distortion (Le Guen & Thome 2019)."""

from __future__ import annotations

import torch

from lossbench.losses.base import Loss
from lossbench.losses.soft_dtw import (
    as_series,
    check_params,
    pairwise_sq_dist,
    resolve_backend,
    soft_alignment,
)


class DilateLoss(Loss):
    """``α · shape + (1 − α) · temporal`` per series (Le Guen & Thome, NeurIPS 2019).

    * shape = soft-DTW ``sdtw_γ(pred, target)`` with squared Euclidean cost
      (Cuturi & Blondel 2017), not the divergence, as in the paper;
    * temporal = ``Σ_ij A_ij Ω_ij`` with ``A = ∂ sdtw / ∂Δ`` the soft alignment
      (entries in [0, 1], a 0/1 path as γ → 0) and ``Ω_ij = (i − j)² / H²``,
      ``H`` the horizon: a time-distortion index normalised like the reference
      implementation (``sum(path * Omega) / H²``).

    The temporal term's gradient needs the derivative of the alignment itself,
    i.e. the Hessian of soft-DTW applied to ``Ω``. It is computed exactly by
    forward-mode differentiation of both recursions (Mensch & Blondel 2018), the
    same quantity the paper's second custom backward computes.

    Args:
        alpha: weight of the shape term in [0, 1].
        gamma: soft-DTW smoothing γ > 0 (paper: 0.01).
        bandwidth: optional Sakoe-Chiba band ``|i - j| <= bandwidth``.
        backend: ``auto``, ``numba`` or ``torch`` (see ``SoftDTWLoss``).
        reduction: ``mean`` over the batch (as the reference code), ``sum`` or ``none``.

    Prediction and target must have the same horizon: ``[B, H]`` or ``[B, H, D]``.
    """

    def __init__(
        self,
        alpha: float = 0.5,
        gamma: float = 0.01,
        bandwidth: int | None = None,
        backend: str = "auto",
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=reduction)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        self.alpha = float(alpha)
        self.band = check_params(gamma, bandwidth)
        self.gamma = float(gamma)
        self.bandwidth = bandwidth
        self.backend = resolve_backend(backend)

    def terms(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-series shape and temporal terms, each ``[B]``."""
        x, y = as_series(pred, target)
        horizon = x.shape[1]
        if y.shape[1] != horizon:
            raise ValueError(
                f"dilate needs prediction and target of the same horizon, got {horizon} and "
                f"{y.shape[1]}"
            )
        shape, align = soft_alignment(pairwise_sq_dist(x, y), self.gamma, self.band, self.backend)
        steps = torch.arange(horizon, dtype=align.dtype, device=align.device)
        omega = (steps[:, None] - steps[None, :]).square() / horizon**2
        return shape, (align * omega).sum((1, 2))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        shape, temporal = self.terms(pred, target)
        return self.reduce(self.alpha * shape + (1.0 - self.alpha) * temporal)

    def components(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Batch means of the two terms, unweighted by α."""
        shape, temporal = self.terms(pred, target)
        return {"shape": shape.mean(), "temporal": temporal.mean()}

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, gamma={self.gamma}, bandwidth={self.bandwidth}, "
            f"backend={self.backend!r}, reduction={self.reduction!r}"
        )
