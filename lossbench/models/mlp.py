"""Multi-layer perceptron and linear (logistic / linear regression) models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
from torch import nn

from lossbench.models.stacked import StackedLinear, StackedModel
from lossbench.seeding import generator

ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "gelu": nn.functional.gelu,
    "silu": nn.functional.silu,
    "leaky_relu": nn.functional.leaky_relu,
}


def activation_fn(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation called ``name``; a one-line error listing the valid names."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


class MLP(StackedModel):
    """Fully connected network on the flattened input.

    Args:
        in_features: size of the flattened input.
        out_features: logits per class, or targets per sample.
        hidden_sizes: width of each hidden layer (empty = linear model).
        activation: one of ``relu``, ``tanh``, ``gelu``, ``silu``, ``leaky_relu``.
        dropout: drop probability after each hidden activation (0 = off). Each
            member draws its masks from its own seeded stream.
        seeds: one seed per member.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "relu",
        dropout: float = 0.0,
        seeds: Sequence[int] = (0,),
    ) -> None:
        super().__init__(seeds)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        sizes = [in_features, *[int(h) for h in hidden_sizes], out_features]
        self.layers = nn.ModuleList(StackedLinear(a, b, self.n_members) for a, b in pairwise(sizes))
        self.activation = activation_fn(activation)
        self.dropout = float(dropout)
        self._mask_gens = [generator(s, "dropout") for s in self.seeds]
        self.init_members()

    def _drop(self, h: torch.Tensor) -> torch.Tensor:
        keep = 1.0 - self.dropout
        masks = [torch.empty(h.shape[1:]).bernoulli_(keep, generator=g) for g in self._mask_gens]
        # drawn on the CPU (the seeded generators), then moved: the same masks on any device
        return h * torch.stack(masks).to(h.device) / keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(2)
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))
            if self.training and self.dropout > 0:
                h = self._drop(h)
        return self.layers[-1](h)


class Linear(MLP):
    """Linear model: logistic regression on logits, or linear regression."""

    def __init__(self, in_features: int, out_features: int, *, seeds: Sequence[int] = (0,)) -> None:
        super().__init__(in_features, out_features, hidden_sizes=(), seeds=seeds)
