"""Shared by the soft-DTW and DILATE tests: a plain cell-by-cell soft-DTW, the backends
to parametrize over, and reproducible float64 series."""

from __future__ import annotations

import math

import pytest
import torch

from lossbench.losses.soft_dtw import resolve_backend

F64 = torch.float64
HAS_NUMBA = resolve_backend("auto") == "numba"
BACKENDS = [
    "torch",
    pytest.param("numba", marks=pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")),
]


def reference(cost: torch.Tensor, gamma: float, band: int | None = None) -> torch.Tensor:
    """The textbook recursion, one cell at a time, on torch scalars so autograd (also twice)
    can check the analytic gradients: R[i, j] = cost[i, j] + softmin_γ(R[i-1, j-1], R[i-1, j],
    R[i, j-1]); cells with |i - j| > band are left out."""
    out = []
    for c in cost:
        n, m = c.shape
        inf = torch.tensor(math.inf, dtype=c.dtype)
        R = [[inf] * (m + 1) for _ in range(n + 1)]
        R[0][0] = torch.zeros((), dtype=c.dtype)
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                if band is not None and abs(i - j) > band:
                    continue
                prev = torch.stack((R[i - 1][j - 1], R[i - 1][j], R[i][j - 1]))
                R[i][j] = c[i - 1, j - 1] - gamma * torch.logsumexp(-prev / gamma, 0)
        out.append(R[n][m])
    return torch.stack(out)


def series(*shape: int, seed: int = 0, dtype=F64, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=F64) * scale).to(dtype)
