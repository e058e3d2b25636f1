"""Plain ``nn.Module`` twins of lossbench's built-in models, for the batching benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import nn


class PlainMLP(nn.Module):
    """The default MLP (ReLU, hidden 64-64) as an ordinary module, batched over seeds by
    torch.func (lossbench.models.functional) instead of hand-stacked weights."""

    def __init__(
        self, in_features: int, out_features: int, hidden_sizes: Sequence[int] = (64, 64)
    ) -> None:
        super().__init__()
        sizes = [in_features, *hidden_sizes, out_features]
        layers: list[nn.Module] = []
        for a, b in pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x):
        return self.net(x.flatten(1))
