"""LDAM: label-distribution-aware margins, with optional deferred re-weighting (Cao et al. 2019)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lossbench.losses.base import Loss, as_class_logits, counts_of
from lossbench.losses.class_balanced import effective_number_weights


class LDAMLoss(Loss):
    """LDAM loss ``CE(s * (z - m_y e_y), y)`` with ``m_c = C / n_c^(1/4)`` scaled so the
    rarest class gets ``max_margin`` (Cao et al. 2019, "Learning Imbalanced Datasets with
    Label-Distribution-Aware Margin Loss", eq. 13).

    The margin is subtracted from the true-class logit only, so rare classes must be
    won by a wider margin. ``s = 30`` in the paper assumes cosine (normalised)
    logits in [-1, 1]; lossbench models emit plain logits, where ``s = 30`` blows
    the loss up. With plain logits ``s`` sets the margin's size against the
    initial logits: at ``s = 1`` the model outgrows a 0.5 margin at once and LDAM
    is CE (measured on digits_lt, MLP 64-64, full batch, 300 epochs, 3 splits x 5
    seeds, test balanced accuracy: CE 0.708, LDAM s=1 0.711). The default
    ``s = 10`` was chosen by that measurement: LDAM 0.735 (+0.027 over CE, every
    split +0.015..+0.044) while CE at the same scale, ``CE(10 z)`` (``max_margin=0``),
    gives 0.704, so the gain is the margin's, not the scaling's; the few-shot
    accuracy rises 0.23 -> 0.30. At s = 3 the margin adds +0.011 (0.714 -> 0.725);
    at s = 30 LDAM is as good (0.737) but CE(30 z) falls to 0.668, so s = 10 is
    where the margin helps and the scale alone is neutral. ``normalize=True``
    divides the logit vector by its norm (the closest a loss gets to the paper's
    cosine logits): there the margin matters even more (s = 30: 0.634 without it,
    0.708 with it) but the normalised CE itself is weaker than plain CE on this
    model (s = 10: 0.676, with the margin 0.700), so it is an option, not the default.

    DRW (deferred re-weighting, same paper): from the switch epoch on, each
    sample is weighted by the class-balanced weight of its class
    (:func:`effective_number_weights` with ``drw_beta``; the paper uses 0.9999 and
    starts at 80 % of training). The trainer calls :meth:`on_epoch_start`; the
    switch is :meth:`schedule_switch_epoch`. A fraction ``f`` re-weights the epochs
    whose 0-based index is ``>= f * epochs``, as the reference code does
    (``idx = epoch // 160`` over 200 epochs: 0.8 of 200 re-weights epochs 161-200,
    exactly the last 20 %).

    Args:
        max_margin: margin of the rarest class (paper: 0.5); 0 gives ``CE(s z)``.
        s: logit scale (default 10, measured above; 1 makes LDAM equal to CE here).
        drw_epoch: ``None`` (off), the first re-weighted epoch ``>= 1`` (counted from 1),
            or a fraction in (0, 1) of the run's epochs (0.8 = the last 20 %; with
            ``E`` epochs the first re-weighted one is ``ceil(f * E) + 1``).
        drw_beta: ``beta`` of the deferred class-balanced weights.
        normalize: divide each logit vector by its L2 norm before the margin, so logits
            lie in [-1, 1] as the paper's cosine logits do.
        reduction: ``none`` (``[N]``), ``sum``, or ``mean`` = ``mean_i(w_i * l_i)``
            (``w = 1`` before DRW starts; the paper's code divides by ``sum w_i`` instead).
        class_counts: supplied by the runner from the training split.
    """

    def __init__(
        self,
        *,
        max_margin: float = 0.5,
        s: float = 10.0,
        drw_epoch: float | None = None,
        drw_beta: float = 0.9999,
        normalize: bool = False,
        reduction: str = "mean",
        class_counts: Sequence[int] | None = None,
    ) -> None:
        super().__init__(reduction=reduction)
        counts = counts_of(class_counts, "ldam")
        if max_margin < 0:
            raise ValueError(f"max_margin must be >= 0, got {max_margin}")
        if s <= 0:
            raise ValueError(f"s must be > 0, got {s}")
        if drw_epoch is not None and not (
            0 < drw_epoch < 1 or (drw_epoch >= 1 and float(drw_epoch).is_integer())
        ):
            raise ValueError(
                f"drw_epoch must be null, an epoch >= 1 or a fraction in (0, 1), got {drw_epoch}"
            )
        margins = torch.tensor(counts).pow(-0.25)
        self.register_buffer("margins", margins * (float(max_margin) / margins.max()))
        drw_weights = effective_number_weights(counts, drw_beta)
        self.register_buffer("drw_weights", torch.tensor(drw_weights))
        self.s = float(s)
        self.normalize = bool(normalize)
        self.drw_epoch = drw_epoch
        self.reweight = False

    def schedule_switch_epoch(self, total_epochs: int) -> int | None:
        """First epoch (from 1) with the class-balanced weights; ``None`` without DRW."""
        if self.drw_epoch is None:
            return None
        if self.drw_epoch >= 1:
            return int(self.drw_epoch)
        # 0-based index i is re-weighted when i >= f * E; round away float noise
        # (0.7 * 10 = 7.000000000000001 must give 7, not 8).
        boundary = round(self.drw_epoch * total_epochs, 9)
        return math.ceil(boundary) + 1

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        """Switch the class-balanced weights on from :meth:`schedule_switch_epoch` on."""
        start = self.schedule_switch_epoch(epochs)
        self.reweight = start is not None and epoch >= start

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = as_class_logits(pred, target)
        if self.normalize:  # unit logit vector: the margin cannot be outgrown by scaling z
            logits = F.normalize(logits, dim=-1, eps=1e-12)
        margin = F.one_hot(target, logits.shape[-1]).to(logits) * self.margins.to(logits)
        per = F.cross_entropy(self.s * (logits - margin), target, reduction="none")
        if self.reweight:
            per = self.drw_weights.to(per)[target] * per
        return self.reduce(per)
