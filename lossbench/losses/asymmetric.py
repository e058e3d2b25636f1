"""Class-weighted (asymmetric) cross-entropy: errors on some classes cost more."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lossbench.losses.base import Loss, class_nll


def inverse_frequency(class_counts: Sequence[int]) -> list[float]:
    """``w_c = N / (C * n_c)``: each class carries the same total weight, mean weight 1."""
    total, n = sum(class_counts), len(class_counts)
    if min(class_counts) <= 0:
        raise ValueError("class_weights=auto needs every class in the training split")
    return [total / (n * c) for c in class_counts]


class AsymmetricLoss(Loss):
    """The asymmetric class-weighted loss: cross-entropy with one weight per class index.

    ``l_i = w[y_i] * CE(z_i, y_i)``. Weights are given by class index, class 0
    first: for the binary default data (class 1 = minority) ``[0.5, 2.0]`` makes a
    minority error cost 4x a majority error. ``"auto"`` uses inverse class
    frequency of the training split, ``N / (C * n_c)``.

    ``mean`` is ``mean_i(w[y_i] * l_i)``, the tutorial's definition, so a batch's loss
    does not depend on which classes it happens to contain. (torch's
    ``cross_entropy(weight=w)`` instead divides by ``sum_i w[y_i]``.)

    Args:
        class_weights: list of non-negative weights, one per class, or ``"auto"``.
        reduction: ``mean`` | ``sum`` | ``none``.
        n_classes, class_counts: supplied by the runner from the training split.
    """

    def __init__(
        self,
        *,
        class_weights: Sequence[float] | str = "auto",
        reduction: str = "mean",
        n_classes: int | None = None,
        class_counts: Sequence[int] | None = None,
    ) -> None:
        super().__init__(reduction=reduction)
        if isinstance(class_weights, str):
            if class_weights != "auto":
                raise ValueError(f"class_weights must be a list or 'auto', got {class_weights!r}")
            if class_counts is None:
                raise ValueError("class_weights=auto needs the training class counts")
            class_weights = inverse_frequency(class_counts)
        weights = [float(w) for w in class_weights]
        if n_classes is not None and len(weights) != n_classes:
            raise ValueError(
                f"class_weights has {len(weights)} values but the data has {n_classes} classes; "
                f"give one weight per class index, class 0 first (or use auto)"
            )
        if any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError(f"class_weights must be non-negative and not all zero, got {weights}")
        self.register_buffer("class_weights", torch.tensor(weights))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weights = self.class_weights.to(pred.dtype)[target]
        return self.reduce(weights * class_nll(pred, target))
