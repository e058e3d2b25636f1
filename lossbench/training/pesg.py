"""PESG: proximal epoch stochastic gradient, the optimizer of the AUC-margin loss (Yuan et al.
2021, "Large-scale Robust Deep AUC Maximization", Alg. 1; LibAUC ``PESG``, mode ``sgd``).

For a minimised parameter ``v`` (the model's, and a loss's ``a``, ``b``), each step::

    d   = clip(grad, -c, c) + epoch_decay * (v - v_ref) + weight_decay * v
    buf = d                                           (first step)
    buf = (1 - momentum) * buf + momentum * d         (later steps; LibAUC's convention:
                                                       ``momentum`` weighs the new value)
    v  <- v - lr * buf

``v_ref`` is the start of the current stage (the paper's ``v_0``; LibAUC draws it from
N(0, 0.01) instead) and is reset, at each decay epoch, to the average of the stage's
iterates, when ``lr`` is divided by ``decay_factor``: the epoch-level proximal term keeps
each stage near its reference point. A parameter a loss declares maximised (its gradient
arrives reversed, :mod:`lossbench.training.loss_params`) takes a plain step
``v <- v - lr * grad`` = ascent on the loss, as the paper's ``alpha`` update (the loss
projects it onto its feasible set; LibAUC's code replaces alpha's gradient by
``2(m + b - a) - 2 alpha``, which uses ``a``, ``b`` in place of the batch's class means).
Every rule acts element-wise, so members stacked in one tensor train as they would alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from lossbench.training.loss_params import MAXIMIZED


class PESG(torch.optim.Optimizer):
    """PESG (module docstring). ``decay_epochs``: epochs (integers >= 2) or fractions of
    the run in (0, 1) at whose start ``lr`` is divided by ``decay_factor`` and the
    reference point is reset; a fraction ``f`` of ``E`` epochs decays at the start of
    epoch ``floor(f * E) + 1``. The trainer calls :meth:`on_epoch_start`."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 0.1,
        momentum: float = 0.9,
        weight_decay: float = 1e-5,
        epoch_decay: float = 2e-3,
        clip_value: float = 1.0,
        decay_epochs: Sequence[float] = (),
        decay_factor: float = 10.0,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        for name, value in (("weight_decay", weight_decay), ("epoch_decay", epoch_decay)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not clip_value > 0:
            raise ValueError(f"clip_value must be > 0, got {clip_value}")
        if not decay_factor > 0:
            raise ValueError(f"decay_factor must be > 0, got {decay_factor}")
        for e in decay_epochs:
            if not (0 < e < 1 or (e >= 2 and float(e).is_integer())):
                raise ValueError(
                    f"decay_epochs holds {e}: give epochs >= 2 or fractions in (0, 1)"
                )
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            epoch_decay=epoch_decay,
            clip_value=clip_value,
        )
        super().__init__(params, defaults)
        self.decay_epochs = tuple(decay_epochs)
        self.decay_factor = float(decay_factor)
        self.stage_steps = 0  # steps since the last reference reset
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["ref"] = p.detach().clone()
                state["acc"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def decay_at(self, epochs: int) -> set[int]:
        """The epochs (from 1) at whose start the stage changes, for a run of ``epochs``."""
        return {int(e) if e >= 1 else int(e * epochs) + 1 for e in self.decay_epochs}

    @torch.no_grad()
    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        """At a decay epoch: ``lr /= decay_factor``; ``v_ref`` = mean of the stage's iterates."""
        if epoch not in self.decay_at(epochs) or self.stage_steps == 0:
            return
        for group in self.param_groups:
            group["lr"] /= self.decay_factor
            for p in group["params"]:
                state = self.state[p]
                state["ref"].copy_(state["acc"] / self.stage_steps)
                state["acc"].zero_()
        self.stage_steps = 0

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 - torch's signature
        """One PESG step (module docstring)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, beta = group["lr"], group["momentum"]
            for p in group["params"]:
                state = self.state[p]
                if p.grad is not None:
                    if getattr(p, MAXIMIZED, False):
                        p.sub_(p.grad, alpha=lr)  # the gradient is reversed: ascent
                    else:
                        d = p.grad.clamp(-group["clip_value"], group["clip_value"])
                        if group["epoch_decay"]:
                            d = d + group["epoch_decay"] * (p - state["ref"])
                        if group["weight_decay"]:
                            d = d + group["weight_decay"] * p
                        if beta:
                            buf = state.get("momentum_buffer")
                            if buf is None:
                                buf = state["momentum_buffer"] = d.clone()
                            else:
                                buf.mul_(1 - beta).add_(d, alpha=beta)
                            d = buf
                        p.sub_(d, alpha=lr)
                state["acc"].add_(p)
        self.stage_steps += 1
        return loss
