"""The loss extensions of the training contract: parameters a loss owns, parameters it
maximises, and the sample indices it may ask for.

* A loss that is an ``nn.Module`` with ``nn.Parameter``s has them trained with the model
  (the optimizer is built over the model's parameters and each member's loss parameters;
  every member has its own loss instance, so members keep separate parameters).
* A loss class may declare ``maximize = ("alpha", ...)``: names of its parameters updated
  by *ascent*. Their gradient is reversed by a hook as it arrives, so any optimizer's
  descent step is an ascent step for them: min-max losses (AUC-M, Yuan et al. 2021) train
  with SGD, Adam or ``optimizer=pesg`` alike (gradient descent-ascent).
* A loss whose ``forward`` has a parameter ``index`` receives, in training, the batch's
  training-split row indices (``LongTensor[B]``, its own member's rows); validation and
  test call it without (so ``index`` must default to ``None``): per-sample state (e.g.
  SOAP's moving averages, Qi et al. 2021) is read and written only in training.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

# Set on a parameter whose gradient the hook reverses (an optimizer may read it: PESG
# takes a plain projected-ascent step for such parameters, as the paper does).
MAXIMIZED = "lossbench_maximized"


def maximized_names(loss: Any) -> tuple[str, ...]:
    """The parameter names ``loss`` declares maximised (``maximize``; a string is one name)."""
    names = getattr(loss, "maximize", ())
    return (names,) if isinstance(names, str) else tuple(names or ())


def loss_parameters(losses: Iterable[Any]) -> list[nn.Parameter]:
    """Trainable parameters of each distinct loss instance, in order; the maximised ones
    get their gradient reversed (once). Raises ValueError for a ``maximize`` name that is
    not a trainable parameter of the loss."""
    params: list[nn.Parameter] = []
    seen: set[int] = set()
    for loss in losses:
        if not isinstance(loss, nn.Module):
            if maximized_names(loss):
                raise ValueError("a loss that maximises parameters must be an nn.Module")
            continue
        if id(loss) in seen:
            continue
        seen.add(id(loss))
        for name in maximized_names(loss):
            try:
                p = loss.get_parameter(name)
            except AttributeError:
                raise ValueError(
                    f"maximize names {name!r}, which is not a parameter of "
                    f"{type(loss).__name__}; name one of: "
                    + (", ".join(n for n, _ in loss.named_parameters()) or "(none)")
                ) from None
            if not p.requires_grad:
                raise ValueError(f"maximised parameter {name!r} does not require grad")
            if not getattr(p, MAXIMIZED, False):
                p.register_hook(torch.neg)
                setattr(p, MAXIMIZED, True)
        params.extend(p for p in loss.parameters() if p.requires_grad)
    return params


def wants_index(loss: Any) -> bool:
    """Whether ``loss`` (its ``forward``, or the function itself) takes ``index``.

    Raises ValueError when ``index`` has no default: validation calls the loss without it.
    """
    target = loss.forward if isinstance(loss, nn.Module) else loss
    try:
        param = inspect.signature(target).parameters.get("index")
    except (TypeError, ValueError):
        return False
    if param is None:
        return False
    if param.default is inspect.Parameter.empty:
        raise ValueError(
            "its forward takes `index` without a default; give it `index=None` "
            "(validation and test call the loss without sample indices)"
        )
    return True
