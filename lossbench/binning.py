"""Equal-width bins over the training target range, defined once.

Used by the data (the many / medium / few target regions of Yang et al. 2021, DIR,
in :mod:`lossbench.data.profiles`) and by the density-based regression losses
(:mod:`lossbench.losses.density`), so a target falls in the same bin in both.
"""

from __future__ import annotations

import numpy as np
import torch


def histogram(values: torch.Tensor, n_bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(edges [n_bins + 1], counts [n_bins])`` in float64, equal-width bins from the
    minimum to the maximum of ``values`` (width 1 when all values are equal)."""
    y = values.detach().to(torch.float64).reshape(-1)
    lo, hi = float(y.min()), float(y.max())
    if hi <= lo:
        hi = lo + 1.0
    edges = torch.linspace(lo, hi, n_bins + 1, dtype=torch.float64)
    counts = torch.bincount(bin_index(y, edges), minlength=n_bins).to(torch.float64)
    return edges, counts


def bin_index(values: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """The bin of each value: bin ``k`` holds ``edges[k] <= v < edges[k + 1]`` (the last bin
    also its right edge); values outside the edges fall in the first or last bin."""
    inner = torch.as_tensor(edges)[1:-1].to(values.dtype)
    return torch.bucketize(values.detach().contiguous(), inner, right=True)


def bin_index_np(values: np.ndarray, edges: object) -> np.ndarray:
    """:func:`bin_index` for numpy arrays (the metrics' side)."""
    y = torch.as_tensor(np.asarray(values, dtype=np.float64))
    return bin_index(y, torch.as_tensor(np.asarray(edges, dtype=np.float64))).numpy()
