"""A user's own model for lossbench: any ``torch.nn.Module``.

Run from the repository root (``model=custom`` takes any importable class):

    lossbench run model=custom model._target_=examples.my_model.Net +model.width=32 seeds=3

or by name through its YAML (``examples/configs/model/ln_mlp.yaml``):

    lossbench run --config-dir examples/configs model=ln_mlp seeds=3

The constructor declares what it needs from the data (``in_features``, ``out_features``,
``input_shape``); lossbench builds it once per seed under that seed and batches the
seeds with torch.func.vmap where that is exact (see README, "Your own model").
"""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    """Linear - LayerNorm - GELU - Linear on the flattened sample (a pre-norm MLP block)."""

    def __init__(self, in_features: int, out_features: int, width: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, width),
            nn.LayerNorm(width),
            nn.GELU(),
            nn.Linear(width, out_features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, *sample shape] -> [B, out_features]."""
        return self.net(x)
