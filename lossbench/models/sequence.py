"""Forecasting models over windows [K, B, L, D]: a GRU encoder and a 1-D CNN.

Both keep one member per seed in stacked weights [K, ...]: the GRU runs one
``baddbmm`` per time step over all members, the CNN's convolutions loop over
members (one ``addmm`` each). Member ``k`` computes exactly what a 1-member
model with seed ``k`` computes (tested bitwise, outputs and gradients).
``input_shape`` (``[L, D]``) is filled in by the runner; without it the input
is taken as univariate, ``[in_features, 1]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from lossbench.models.mlp import activation_fn
from lossbench.models.stacked import StackedLinear, StackedModel


def _window_shape(in_features: int, input_shape: Sequence[int] | None) -> tuple[int, int]:
    """(L, D) of one window; univariate [in_features, 1] when the shape is not given."""
    if input_shape is None:
        return int(in_features), 1
    shape = [int(s) for s in input_shape]
    if len(shape) == 1:
        shape.append(1)
    if len(shape) != 2 or shape[0] * shape[1] != in_features:
        raise ValueError(f"input_shape must be [input_len, channels] of a window, got {shape}")
    return shape[0], shape[1]


def _as_sequence(x: torch.Tensor, length: int, channels: int) -> torch.Tensor:
    """[K, B, L, D] (or [K, B, L] univariate) -> [K, B, L, D]."""
    return x.reshape(*x.shape[:2], length, channels)


class StackedGRULayer(nn.Module):
    """One GRU layer for K members, with torch.nn.GRU's equations and initialisation.

    r = sigma(W_ir x + b_ir + W_hr h + b_hr), z = sigma(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h (Cho et al. 2014).
    Gates are stacked in torch's order (r, z, n) along the last weight axis.
    """

    def __init__(self, input_size: int, hidden_size: int, n_members: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.w_ih = nn.Parameter(torch.empty(n_members, input_size, 3 * hidden_size))
        self.w_hh = nn.Parameter(torch.empty(n_members, hidden_size, 3 * hidden_size))
        self.b_ih = nn.Parameter(torch.empty(n_members, 1, 3 * hidden_size))
        self.b_hh = nn.Parameter(torch.empty(n_members, 1, 3 * hidden_size))

    def reset_member(self, k: int, gen: torch.Generator) -> None:
        """U(-1/sqrt(hidden), 1/sqrt(hidden)) for every weight and bias, as torch.nn.GRU."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in (self.w_ih, self.w_hh, self.b_ih, self.b_hh):
                p[k].copy_(torch.rand(p.shape[1:], generator=gen) * (2 * bound) - bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [K, B, L, in] -> hidden states [K, B, L, hidden]."""
        k, b, length, _ = x.shape
        hs = self.hidden_size
        # input projections of all time steps at once: one bmm
        gi = torch.baddbmm(self.b_ih, x.reshape(k, b * length, -1), self.w_ih)
        gi = gi.reshape(k, b, length, 3 * hs)
        h = x.new_zeros(k, b, hs)
        out = []
        for t in range(length):
            gh = torch.baddbmm(self.b_hh, h, self.w_hh)
            i_r, i_z, i_n = gi[:, :, t].split(hs, dim=-1)
            h_r, h_z, h_n = gh.split(hs, dim=-1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
            out.append(h)
        return torch.stack(out, dim=2)


class GRU(StackedModel):
    """GRU encoder over the window; a linear head on the last hidden state emits the horizon.

    Args:
        in_features: window size L * D (flattened).
        out_features: horizon (values per window).
        hidden_size: GRU width.
        num_layers: stacked GRU layers.
        input_shape: [L, D] of a window (given by the runner).
        seeds: one seed per member.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden_size: int = 32,
        num_layers: int = 1,
        input_shape: Sequence[int] | None = None,
        seeds: Sequence[int] = (0,),
    ) -> None:
        super().__init__(seeds)
        if hidden_size < 1 or num_layers < 1:
            raise ValueError(
                f"hidden_size and num_layers must be >= 1, got {hidden_size}, {num_layers}"
            )
        self.length, self.channels = _window_shape(in_features, input_shape)
        sizes = [self.channels] + [hidden_size] * num_layers
        self.layers = nn.ModuleList(
            StackedGRULayer(sizes[i], hidden_size, self.n_members) for i in range(num_layers)
        )
        self.head = StackedLinear(hidden_size, out_features, self.n_members)
        self.init_members()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _as_sequence(x, self.length, self.channels)
        for layer in self.layers:
            h = layer(h)
        return self.head(h[:, :, -1])


class StackedConv1d(nn.Module):
    """K independent 1-D convolutions ('same' zero padding, stride 1) as im2col + matmul.

    The windows of ``kernel_size`` steps are unfolded and multiplied by each
    member's [kernel_size * in, out] weight (a loop over members), the same
    computation as ``torch.nn.Conv1d`` (tested against it).
    The inner StackedLinear's init, U(+-1/sqrt(fan_in)) with fan_in = in * ks, is
    torch.nn.Conv1d's default.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, n_members: int):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd integer >= 1, got {kernel_size}")
        self.kernel_size = kernel_size
        self.linear = StackedLinear(kernel_size * in_channels, out_channels, n_members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [K, B, L, in] -> [K, B, L, out]."""
        k, b, length, c = x.shape
        pad = self.kernel_size // 2
        xp = nn.functional.pad(x, (0, 0, pad, pad))
        cols = xp.unfold(2, self.kernel_size, 1)  # [K, B, L, in, ks]
        cols = cols.transpose(-1, -2).reshape(k, b * length, self.kernel_size * c)
        w, bias = self.linear.live()
        # One addmm per member, not one baddbmm: with a few input channels the batched
        # kernel's weight gradient differed from the K=1 one by 1 ulp (measured).
        out = [torch.addmm(bias[m], cols[m], w[m]) for m in range(k)]
        return torch.stack(out).reshape(k, b, length, -1)


class CNN1d(StackedModel):
    """1-D convolutions over time, then a linear head on the flattened feature map.

    Args:
        in_features: window size L * D (flattened).
        out_features: horizon.
        channels: output channels of each conv layer.
        kernel_size: odd kernel width ('same' padding keeps the length).
        activation: one of ``relu``, ``tanh``, ``gelu``, ``silu``, ``leaky_relu``.
        input_shape: [L, D] of a window (given by the runner).
        seeds: one seed per member.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        channels: Sequence[int] = (32, 32),
        kernel_size: int = 5,
        activation: str = "relu",
        input_shape: Sequence[int] | None = None,
        seeds: Sequence[int] = (0,),
    ) -> None:
        super().__init__(seeds)
        self.length, self.channels = _window_shape(in_features, input_shape)
        sizes = [self.channels, *[int(c) for c in channels]]
        self.convs = nn.ModuleList(
            StackedConv1d(sizes[i], sizes[i + 1], kernel_size, self.n_members)
            for i in range(len(sizes) - 1)
        )
        self.activation = activation_fn(activation)
        self.head = StackedLinear(self.length * sizes[-1], out_features, self.n_members)
        self.init_members()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _as_sequence(x, self.length, self.channels)
        for conv in self.convs:
            h = self.activation(conv(h))
        return self.head(h.flatten(2))
