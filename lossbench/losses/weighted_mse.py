"""Inverse-density weighted MSE for imbalanced regression, with label distribution smoothing."""

from __future__ import annotations

import torch

from lossbench.losses.base import Loss
from lossbench.losses.density import bin_index, label_histogram, lds_window, smooth

WEIGHTINGS = ("inverse", "sqrt_inv")


def check_clip(count_clip: object) -> tuple[float, float]:
    """``[lo, hi]`` with ``0 <= lo <= hi``, as floats."""
    try:
        lo, hi = (float(v) for v in count_clip)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"count_clip must be null or [lo, hi], got {count_clip!r}") from None
    if not 0 <= lo <= hi:
        raise ValueError(f"count_clip must satisfy 0 <= lo <= hi, got {count_clip!r}")
    return lo, hi


class WeightedMSELoss(Loss):
    """MSE with per-sample weight ``1 / density(y)`` (Yang et al. 2021, "Delving into Deep
    Imbalanced Regression", sec. 3.1: re-weighting with LDS).

    As the official ``_prepare_weights`` (Yang et al. 2021, imdb-wiki-dir): the
    density is the training-target histogram (``n_bins`` equal-width bins), its
    square root for ``sqrt_inv``, or for ``inverse`` the counts clipped to
    ``count_clip`` (official: [5, 1000]: a bin with fewer than 5 samples weighs as
    if it had 5, which caps the weight of the rarest targets; ``null`` = no
    clipping). With ``lds=true`` it is then convolved (zero-padded) with the
    official LDS window (:func:`lossbench.losses.density.lds_window`: ``gaussian``
    = scipy ``gaussian_filter1d`` of a delta, normalised by its max; ``triang``;
    ``laplace``; window ``lds_ks``, width ``lds_sigma`` in bins; paper: gaussian,
    5, 2). Weights are scaled so their mean over the training samples is 1, so the
    loss stays on the MSE scale. A target in an empty bin (outside LDS' reach)
    gets the largest weight of a non-empty bin.

    ``l_i = w(y_i) (pred_i - y_i)^2``; ``none`` keeps the target shape, ``mean`` =
    ``mean_i(w_i l_i)`` (not divided by the batch's sum of weights).

    Args:
        weighting: ``inverse`` or ``sqrt_inv``.
        count_clip: ``[lo, hi]`` bounds of the bin counts for ``inverse`` (official:
            [5, 1000]; not applied to ``sqrt_inv``, as in the official code), or ``None``.
        lds: smooth the density first.
        lds_kernel, lds_ks, lds_sigma: the smoothing window.
        n_bins: histogram bins over the training target range.
        train_targets: supplied by the runner.
    """

    def __init__(
        self,
        *,
        weighting: str = "sqrt_inv",
        lds: bool = True,
        lds_kernel: str = "gaussian",
        lds_ks: int = 5,
        lds_sigma: float = 2.0,
        n_bins: int = 50,
        count_clip: tuple[float, float] | None = (5.0, 1000.0),
        reduction: str = "mean",
        train_targets: object = None,
    ) -> None:
        super().__init__(reduction=reduction)
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
        edges, counts = label_histogram(train_targets, n_bins)
        if weighting == "sqrt_inv":
            density = counts.sqrt()
        elif count_clip is None:
            density = counts.clone()
        else:
            lo, hi = check_clip(count_clip)
            density = counts.clamp(lo, hi)
        if lds:
            density = smooth(density, lds_window(lds_kernel, lds_ks, lds_sigma))
        positive = density > 0
        density = torch.where(positive, density, density[positive].min())
        weights = 1.0 / density
        per_sample = weights[bin_index(torch.as_tensor(train_targets).reshape(-1), edges)]
        self.register_buffer("edges", edges)
        self.register_buffer("weights", weights / per_sample.mean())

    def sample_weights(self, target: torch.Tensor) -> torch.Tensor:
        """The weight of each target value."""
        return self.weights[bin_index(target.to(torch.float64), self.edges)].to(target.dtype)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.sample_weights(target) * (pred - target) ** 2)
