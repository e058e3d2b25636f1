"""A plain loss function ``f(pred, target, **params)`` as a loss module."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from lossbench.losses.base import Loss


def is_loss_function(target: Any) -> bool:
    """True for a function (not a class) called as ``f(pred, target, ...)``.

    Two leading positional parameters without defaults mark a loss function; a
    callable without them is a factory that returns the loss, built as usual.
    """
    if inspect.isclass(target) or not callable(target):
        return False
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.kind in positional and p.default is inspect.Parameter.empty]
    return len(required) >= 2


class FunctionLoss(Loss):
    """Wraps ``fn(pred, target, **params)``; the bound ``params`` come from the config.

    If ``fn`` declares ``reduction`` it receives it and does its own reducing.
    Otherwise ``fn`` should return unreduced losses (per sample or per element)
    and the wrapper applies ``reduction`` (``mean`` = the plain mean); a
    function that returns a scalar is taken as already averaged, so only
    ``reduction=mean`` is available for it.
    """

    def __init__(
        self, fn: Callable[..., torch.Tensor], *, reduction: str = "mean", **params: Any
    ) -> None:
        super().__init__(reduction=reduction)
        self.fn, self.params = fn, params
        self.passes_reduction = "reduction" in inspect.signature(fn).parameters
        name = getattr(fn, "__qualname__", repr(fn))
        try:
            inspect.signature(fn).bind(None, None, **params)
        except TypeError as exc:
            raise ValueError(f"{name}: {exc}") from None
        self.name = name

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.passes_reduction:
            return self.fn(pred, target, **self.params, reduction=self.reduction)
        out = self.fn(pred, target, **self.params)
        if out.ndim == 0:
            if self.reduction != "mean":
                raise ValueError(
                    f"{self.name} returns a scalar, so only reduction=mean is available; "
                    f"return per-sample losses to allow reduction={self.reduction}"
                )
            return out
        return self.reduce(out)

    def extra_repr(self) -> str:
        return f"{self.name}, reduction={self.reduction}, params={self.params}"
