"""A weighted sum of losses composed in YAML: the classic ``0.7 CE + 0.3 MSE``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from lossbench.losses.base import Loss


class CombinedLoss(Loss):
    """``sum_k w_k L_k(pred, target)``: a weighted sum of other losses.

    The combined loss of the tutorial lossbench grew from (its example:
    ``0.7 CE + 0.3 MSE``, the default in ``combined.yaml``). ``terms`` maps a label to
    a loss, already built: in YAML each term is a loss config placed by the defaults
    list (``/loss@terms.ce: ce``), so the saved config holds every term's parameters,
    and the builder passes the training statistics to each term as to any loss.
    ``weights`` has one weight per term, in the order of ``terms``
    (``loss.weights=[0.5,0.5]`` sweeps them). The terms follow
    this loss's ``reduction``.

    Weights must be non-negative and not all zero. They are **not** normalised:
    a sum other than 1 scales the whole loss (and with it the effective learning
    rate); ``0.7/0.3`` and ``7/3`` train differently under SGD.

    Reductions: ``mean`` = ``sum_k w_k mean(L_k)``; ``sum`` = ``sum_k w_k sum(L_k)``;
    ``none`` = ``sum_k w_k L_k`` element-wise when all terms give the same shape,
    else each term is first averaged to one value per sample ``[N]``.
    ``components`` gives each unweighted term's value (its mean when the reduction
    is ``none``), logged per epoch as ``val_<term>`` in ``history.csv``.
    """

    def __init__(
        self,
        *,
        terms: Mapping[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]],
        weights: Sequence[float],
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=reduction)
        if not isinstance(terms, Mapping) or not terms:
            raise ValueError(
                "terms must map a label to a loss, e.g. defaults: [/loss@terms.ce: ce]"
            )
        weights = [float(w) for w in weights]
        if len(weights) != len(terms):
            raise ValueError(
                f"weights has {len(weights)} values for {len(terms)} terms "
                f"({', '.join(terms)}): give one weight per term"
            )
        if any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError(f"weights must be non-negative and not all zero, got {weights}")
        self.labels = [str(label) for label in terms]
        modules = [t if isinstance(t, nn.Module) else _Callable(t) for t in terms.values()]
        for module in modules:
            if isinstance(getattr(module, "reduction", None), str):
                module.reduction = reduction  # the terms reduce as the sum does
        self.terms = nn.ModuleList(modules)
        self.weights = weights

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        """Pass the epoch on to terms that change during training (e.g. LDAM's DRW)."""
        for term in self.terms:
            if hasattr(term, "on_epoch_start"):
                term.on_epoch_start(epoch, epochs)

    def schedule_switch_epoch(self, total_epochs: int) -> int | None:
        """The latest switch among the terms (the epoch from which every term has its final
        form); ``None`` when no term has a schedule."""
        switches = [
            term.schedule_switch_epoch(total_epochs)
            for term in self.terms
            if hasattr(term, "schedule_switch_epoch")
        ]
        switches = [e for e in switches if e is not None]
        return max(switches) if switches else None

    def _values(self, pred: torch.Tensor, target: torch.Tensor) -> list[torch.Tensor]:
        return [term(pred, target) for term in self.terms]

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        values = self._values(pred, target)
        if self.reduction == "none" and len({v.shape for v in values}) > 1:
            values = [v.reshape(v.shape[0], -1).mean(dim=1) for v in values]
        return sum(w * v for w, v in zip(self.weights, values, strict=True))

    def components(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each term's unweighted value (averaged if the reduction is ``none``)."""
        return {
            label: v.mean() if self.reduction == "none" else v
            for label, v in zip(self.labels, self._values(pred, target), strict=True)
        }


class _Callable(nn.Module):
    """Holds a non-module callable term in the module list."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.fn(pred, target)
