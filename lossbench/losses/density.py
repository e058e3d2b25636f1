"""The training label distribution of a regression task: histogram, LDS smoothing, bin lookup.

The bins themselves are :mod:`lossbench.binning`'s, the same as the data's target regions.

Shared by the density-based regression losses (``weighted_mse``, ``balanced_mse``).
"""

from __future__ import annotations

import torch

from lossbench.binning import bin_index, histogram

__all__ = ["KERNELS", "bin_index", "label_histogram", "lds_window", "smooth"]

KERNELS = ("gaussian", "triang", "laplace")


def label_histogram(train_targets: object, n_bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(edges [n_bins + 1], counts [n_bins])`` of the training targets, equal-width bins."""
    if train_targets is None:
        raise ValueError("this loss needs the training targets (train_targets)")
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins}")
    y = torch.as_tensor(train_targets)
    if not y.dtype.is_floating_point or y.numel() == 0:
        raise ValueError("this loss needs non-empty float (regression) train_targets")
    return histogram(y, n_bins)


def gaussian_filter_window(ks: int, sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """A unit impulse of length ``ks`` filtered by a sampled Gaussian, as scipy's
    ``gaussian_filter1d(delta, sigma)`` computes it (kernel radius
    ``int(truncate * sigma + 0.5)``, weights normalised to sum 1, ``mode='reflect'``:
    the signal continues mirrored, ``d c b a | a b c d | d c b a``).

    When the kernel is wider than the window, the reflected mass folds back in, so
    the result is flatter than ``exp(-x^2 / 2 sigma^2)`` sampled on the window.
    """
    radius = int(truncate * float(sigma) + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * offsets**2 / float(sigma) ** 2)
    kernel = kernel / kernel.sum()
    out = torch.zeros(ks, dtype=torch.float64)
    centre = ks // 2
    for i in range(ks):
        j = (i + offsets.long()) % (2 * ks)  # 'reflect': period 2 ks, mirrored second half
        j = torch.where(j >= ks, 2 * ks - 1 - j, j)
        out[i] = kernel[j == centre].sum()
    return out


def lds_window(kernel: str, ks: int, sigma: float) -> torch.Tensor:
    """Symmetric smoothing window of odd size ``ks``, peak 1, as the official LDS code
    builds it (Yang et al. 2021, ``get_lds_kernel_window``): ``gaussian`` =
    :func:`gaussian_filter_window` / its max (scipy ``gaussian_filter1d`` of a delta),
    ``triang`` = scipy's ``triang(ks)``, ``laplace`` = ``exp(-|x| / sigma)``.
    """
    if kernel not in KERNELS:
        raise ValueError(f"lds_kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if not isinstance(ks, int) or ks < 1 or ks % 2 == 0:
        raise ValueError(f"lds_ks must be an odd integer >= 1, got {ks}")
    if sigma <= 0:
        raise ValueError(f"lds_sigma must be > 0, got {sigma}")
    half = ks // 2
    x = torch.arange(-half, half + 1, dtype=torch.float64)
    if kernel == "gaussian":
        window = gaussian_filter_window(ks, sigma)
        return window / window.max()
    if kernel == "triang":
        return 1.0 - x.abs() / (half + 1)
    return torch.exp(-x.abs() / sigma)


def smooth(values: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Convolve a histogram with ``window`` (zero outside the range, as ``mode='constant'``)."""
    half = window.numel() // 2
    padded = torch.nn.functional.pad(values[None, None], (half, half))
    return torch.nn.functional.conv1d(padded, window.flip(0)[None, None])[0, 0]
