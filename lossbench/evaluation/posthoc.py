"""Post-hoc logit adjustment (Menon et al. 2021, "Long-tail learning via logit
adjustment", eq. 10): predict ``argmax_y (z_y - tau * log pi_y)`` with ``pi`` the
training class prior, for any trained classifier.

One transform serves both the epoch selection during training and the final
evaluation, so the epoch chosen is the best one of the adjusted classifier.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lossbench.errors import ConfigError


def check_tau(value: Any) -> float:
    """``eval.posthoc_tau`` validated: a finite number >= 0 (0 = off)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigError(f"eval.posthoc_tau must be a number >= 0 (0 = off), got {value}")
    return float(value)


def check_task(tau: float, task: str, dataset: str | None) -> None:
    """Post-hoc adjustment shifts class logits: only classification data has them."""
    if tau > 0 and task != "classification":
        raise ConfigError(
            f"eval.posthoc_tau={tau} adjusts class logits, but dataset={dataset} is a {task} "
            "dataset; set eval.posthoc_tau=0"
        )


def logit_adjuster(
    class_prior: Sequence[float] | Sequence[Sequence[float]], tau: float
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """``z -> z - tau * log(prior)`` over the last (class) axis; None when ``tau`` is 0.

    ``class_prior`` is one prior ``[C]`` for all members, or one per member ``[K][C]``
    (members trained on different data splits) applied to predictions ``[K, N, C]``.
    """
    if not tau:
        return None
    prior = torch.tensor(
        [list(p) for p in class_prior] if _nested(class_prior) else list(class_prior),
        dtype=torch.float64,
    )
    if prior.ndim == 2:
        prior = prior.unsqueeze(1)  # [K, 1, C] against [K, N, C]

    def adjust(pred: torch.Tensor) -> torch.Tensor:
        # dtype first, on the CPU (MPS has no float64), then to the predictions' device
        return pred - tau * prior.to(pred.dtype).to(pred.device).log()

    return adjust


def _nested(prior: Sequence[Any]) -> bool:
    return bool(prior) and isinstance(prior[0], Sequence)
