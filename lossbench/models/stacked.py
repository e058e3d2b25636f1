"""Building blocks for models that hold one member per seed in stacked tensors.

Training K seeds as one batched model replaces K small matrix products per layer
by one ``bmm``; each member's slice is computed exactly as it would be alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from lossbench.models.contract import Head
from lossbench.seeding import generator

# Each member's slice of a stacked parameter holds a multiple of this many floats.
# torch's fused CPU Adam computes vector lanes and the scalar tail differently (1 ulp),
# so without padding member k of K>1 could round differently from a K=1 run whenever
# a parameter's per-member size is not a multiple of the SIMD width (e.g. a 2-logit
# bias). 64 floats covers AVX-512 with room to spare; padding entries stay 0.
ALIGN = 64


def padded_cols(rows: int, cols: int) -> int:
    """The smallest ``c >= cols`` with ``rows * c`` a multiple of :data:`ALIGN`."""
    step = ALIGN // math.gcd(rows, ALIGN)
    return -(-cols // step) * step


class StackedLinear(nn.Module):
    """K independent affine maps ``x_k @ W_k + b_k`` as one ``baddbmm``.

    ``weight`` [K, in, out'] and ``bias`` [K, 1, out''] are stored with zero
    padding columns (see :data:`ALIGN`); :meth:`live` gives the used part.
    """

    def __init__(self, in_features: int, out_features: int, n_members: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        cols = padded_cols(in_features, out_features)
        self.weight = nn.Parameter(torch.zeros(n_members, in_features, cols))
        # [K, 1, out] rather than [K, out]: no broadcast view in the autograd graph
        # (measured ~30 us less per training step for a 3-layer MLP).
        self.bias = nn.Parameter(torch.zeros(n_members, 1, padded_cols(1, out_features)))

    def live(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(weight [K, in, out], bias [K, 1, out])`` without the padding columns."""
        out = self.out_features
        w = self.weight if self.weight.shape[2] == out else self.weight[..., :out]
        b = self.bias if self.bias.shape[2] == out else self.bias[..., :out]
        return w, b

    def reset_member(self, k: int, gen: torch.Generator) -> None:
        """torch.nn.Linear's default init, U(-1/sqrt(in), 1/sqrt(in)), for member ``k``."""
        bound = 1.0 / math.sqrt(self.in_features)
        w, b = self.live()
        with torch.no_grad():
            w[k].copy_(torch.rand(w.shape[1:], generator=gen) * (2 * bound) - bound)
            b[k].copy_(torch.rand(b.shape[1:], generator=gen) * (2 * bound) - bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.live()
        if self.out_features == 1:
            # One output: torch's CPU baddbmm takes a K-dependent (matrix-vector) path
            # here, so member k of K>1 would differ in the last bit from K=1. A
            # multiply-and-sum per row is the same for every K (tested bitwise).
            return (x * w.transpose(1, 2)).sum(-1, keepdim=True) + b
        return torch.baddbmm(b, x, w)


class StackedModel(nn.Module):
    """Base class: K members, each initialised from its own seed.

    Subclasses build their layers in ``__init__`` and then call
    ``self.init_members()``; every submodule with a ``reset_member(k, gen)``
    method is initialised member by member in module order.
    """

    def __init__(self, seeds: Sequence[int]) -> None:
        super().__init__()
        if not seeds:
            raise ValueError("a model needs at least one seed")
        self.seeds = [int(s) for s in seeds]

    @property
    def n_members(self) -> int:
        return len(self.seeds)

    def init_members(self) -> None:
        for k, seed in enumerate(self.seeds):
            gen = generator(seed, "init")
            for module in self.modules():
                if module is not self and hasattr(module, "reset_member"):
                    module.reset_member(k, gen)

    # -- the member-model contract (lossbench.models.contract) -------------
    def _trainable(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def member_state(self, k: int) -> list[torch.Tensor]:
        return [p.detach()[k].clone() for p in self._trainable()]

    @torch.no_grad()
    def load_member_state(self, k: int, state: Sequence[torch.Tensor]) -> None:
        for p, s in zip(self._trainable(), state, strict=True):
            p[k].copy_(s)

    def classifier_head(self) -> Head | None:
        """The last :class:`StackedLinear` in module order, when it is the output layer."""
        linears = [m for m in self.modules() if isinstance(m, StackedLinear)]
        if not linears:
            return None
        last = linears[-1]
        w, b = last.live()  # [K, in, out], [K, 1, out]
        return Head(
            weight=w.transpose(1, 2),
            bias=b[:, 0, :],
            params=[last.weight, last.bias],
            reset_member=last.reset_member,
        )
