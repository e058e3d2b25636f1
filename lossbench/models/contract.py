"""The contract every model the trainer trains meets: K members, one per seed.

A *member model* maps inputs ``[K, B, *sample_shape]`` to outputs ``[K, B, out]``
where member ``k`` is initialised from ``seeds[k]`` alone. lossbench's built-in
models implement it with stacked parameters (:class:`~lossbench.models.stacked.
StackedModel`); a user's plain ``nn.Module`` is wrapped to meet it. The trainer
touches a model only through this contract, so any implementation works.
A model may also carry ``warnings: list[str]`` (e.g. "trains its seeds one after
another"): they are added to every member's record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn


@dataclass
class Head:
    """The last linear layer (the classifier) of every member, for decoupled training.

    ``weight`` is a view ``[K, C, D]`` (class ``c``'s weight vector of member ``k`` is
    ``weight[k, c]``) and ``bias`` a view ``[K, C]`` or None: writes through them change
    the model (τ-normalisation, Kang et al. 2020). ``params`` are the parameters that hold
    them: what an optimizer updates to retrain the classifier alone (cRT).
    ``reset_member(k, gen)`` re-initialises member ``k``'s classifier from ``gen``.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None
    params: list[nn.Parameter]
    reset_member: object  # Callable[[int, torch.Generator], None]


@runtime_checkable
class MemberModel(Protocol):
    """What the trainer needs of a model (see the module docstring)."""

    seeds: list[int]

    @property
    def n_members(self) -> int: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def member_state(self, k: int) -> list[torch.Tensor]:
        """A copy of member ``k``'s trainable state (what ``load_member_state`` restores)."""
        ...

    def load_member_state(self, k: int, state: Sequence[torch.Tensor]) -> None:
        """Restore member ``k`` from :meth:`member_state`'s copy; other members untouched."""
        ...

    def classifier_head(self) -> Head | None:
        """The last linear layer as a :class:`Head`, or None when the model does not end
        in one (decoupled training then says so). The first call may replace the model's
        classifier parameters (a plain module in loop mode stacks its members' last
        Linear): call it before an optimizer is built over ``parameters()``."""
        ...
