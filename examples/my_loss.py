"""Your own loss, without editing lossbench: a plain function and a class.

Run from the repository root (lossbench also looks for modules in the current directory):

    lossbench check loss=custom loss._target_=examples.my_loss.poly1_cross_entropy
    lossbench run loss=custom loss._target_=examples.my_loss.poly1_cross_entropy +loss.epsilon=2
    lossbench run loss=custom loss._target_=examples.my_loss.Poly1Loss +loss.epsilon=2
    lossbench run --config-dir examples/configs loss=poly1      # the same, from a YAML file
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lossbench.losses.base import Loss


def poly1_cross_entropy(
    pred: torch.Tensor, target: torch.Tensor, epsilon: float = 1.0
) -> torch.Tensor:
    """Poly-1 loss ``CE + epsilon (1 - p_t)`` per sample (Leng et al. 2022, "PolyLoss", eq. 3).

    A plain function ``f(pred, target, **params)``: lossbench binds ``epsilon`` from
    the config and applies ``reduction`` to the per-sample values returned here.
    ``p_t`` comes from the log-softmax (never ``log(softmax)``), so it is stable.
    """
    log_pt = -F.cross_entropy(pred, target, reduction="none")
    return -log_pt + epsilon * -torch.expm1(log_pt)


class Poly1Loss(Loss):
    """The same loss as a class: ``reduction`` handled by :class:`lossbench.losses.base.Loss`.

    Asks for ``class_prior`` only to show how a training statistic arrives: the
    runner passes it because the constructor declares a parameter of that name.
    """

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        reduction: str = "mean",
        class_prior: list[float] | None = None,
    ) -> None:
        super().__init__(reduction=reduction)
        self.epsilon = float(epsilon)
        self.class_prior = class_prior

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.reduce(poly1_cross_entropy(pred, target, self.epsilon))
