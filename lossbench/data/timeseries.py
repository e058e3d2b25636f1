"""Time-series forecasting: windows of ``input_len`` steps -> the next ``horizon`` steps.

A series is cut chronologically into train / validation / test segments and
windows are taken inside each segment only, so no window crosses a split
boundary and no test value is seen in training. Each channel is standardised
with the training segment's mean and standard deviation. Shapes: x float
[N, input_len, D], y float [N, horizon] (the target channel).

``info`` holds ``segments`` (the [start, end) time index of each split),
``target_mean`` / ``target_std`` (to undo the scaling, e.g. for sMAPE) and
``mase_scale``: the mean absolute one-step naive error ``|y_t - y_{t-m}|`` on
the scaled training segment (m = ``season``), the MASE denominator of Hyndman &
Koehler 2006.
"""

from __future__ import annotations

import numpy as np
import torch

from lossbench.data.base import Dataset, Split, check_fractions
from lossbench.errors import ConfigError


def windows(
    series: np.ndarray, start: int, end: int, input_len: int, horizon: int, target: int, stride: int
) -> tuple[np.ndarray, np.ndarray]:
    """All windows lying inside ``series[start:end]``: x [N, input_len, D], y [N, horizon]."""
    starts = np.arange(start, end - input_len - horizon + 1, stride)
    x = np.stack([series[s : s + input_len] for s in starts])
    y = np.stack([series[s + input_len : s + input_len + horizon, target] for s in starts])
    return x, y


def chronological(
    name: str,
    series: np.ndarray,
    *,
    input_len: int,
    horizon: int,
    val_size: float,
    test_size: float,
    target: int = 0,
    stride: int = 1,
    season: int = 1,
    info: dict | None = None,
) -> Dataset:
    """Forecast windows from a series [T] or [T, D], split chronologically."""
    if input_len < 1 or horizon < 1 or stride < 1 or season < 1:
        raise ConfigError(
            "dataset.input_len, dataset.horizon, dataset.stride and dataset.season must be "
            f">= 1, got {input_len}, {horizon}, {stride}, {season}"
        )
    check_fractions(val_size, test_size)
    series = np.asarray(series, dtype=np.float64)
    series = series[:, None] if series.ndim == 1 else series
    n = len(series)
    n_test, n_val = round(n * test_size), round(n * val_size)
    bounds = {"train": (0, n - n_val - n_test), "val": (n - n_val - n_test, n - n_test)}
    bounds["test"] = (n - n_test, n)
    width = input_len + horizon
    for split, (a, b) in bounds.items():
        if b - a < width:
            raise ConfigError(
                f"dataset {name}: the {split} segment has {b - a} steps, fewer than "
                f"input_len + horizon = {width}; lower dataset.input_len / dataset.horizon"
            )
    a, b = bounds["train"]
    mean, std = series[a:b].mean(axis=0), series[a:b].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    scaled = (series - mean) / std
    train_target = scaled[a:b, target]
    mase_scale = float(np.abs(train_target[season:] - train_target[:-season]).mean())
    splits = []
    for a, b in bounds.values():
        x, y = windows(scaled, a, b, input_len, horizon, target, stride)
        splits.append(
            Split(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32))
        )
    info = {
        **(info or {}),
        "segments": {k: list(v) for k, v in bounds.items()},
        "target_mean": float(mean[target]),
        "target_std": float(std[target]),
        "mase_scale": mase_scale,
        "season": season,
    }
    return Dataset(name, "forecast", *splits, info=info)


def sine(
    *,
    n_steps: int = 2000,
    n_components: int = 2,
    period_min: float = 20.0,
    period_max: float = 80.0,
    noise: float = 0.1,
    input_len: int = 48,
    horizon: int = 12,
    val_size: float = 0.2,
    test_size: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Sum of ``n_components`` sines (random period, amplitude in [0.5, 1.5], phase) + noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    periods = rng.uniform(period_min, period_max, n_components)
    amps = rng.uniform(0.5, 1.5, n_components)
    phases = rng.uniform(0, 2 * np.pi, n_components)
    clean = (amps * np.sin(2 * np.pi * t[:, None] / periods + phases)).sum(axis=1)
    series = clean + noise * rng.normal(size=n_steps)
    return chronological(
        "sine", series, input_len=input_len, horizon=horizon, val_size=val_size, test_size=test_size
    )


def dilate_series(n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` series of 40 steps from the DILATE generator (Le Guen & Thome 2019, the
    authors' ``create_synthetic_dataset``): uniform noise in [0, sigma), peaks of height
    j1, j2 ~ U(0, 1) at i1 in [1, 10] and i2 in [10, 18], and a step of j2 - j1 from
    i2 + |i2 - i1| + U{-3..3} on, so the step's time in the output depends on the peaks.
    """
    out = sigma * rng.random((n, 40))
    for row in out:
        i1, i2 = rng.integers(1, 11), rng.integers(10, 19)
        j1, j2 = rng.random(), rng.random()
        interval = abs(i2 - i1) + rng.integers(-3, 4)
        row[i1] += j1
        row[i2] += j2
        row[i2 + interval :] += j2 - j1
    return out


def dilate_synthetic(
    *, n_train: int = 500, n_val: int = 100, n_test: int = 500, sigma: float = 0.01, seed: int = 0
) -> Dataset:
    """DILATE's synthetic benchmark: 20 input steps -> 20 output steps, independent series.

    The series are independent draws, so splits are separate draws rather than
    segments of one series; values are kept unscaled, as in the paper.
    """
    rng = np.random.default_rng(seed)
    splits = []
    for n in (n_train, n_val, n_test):
        if n < 1:
            raise ConfigError(f"dataset.n_train, n_val and n_test must be >= 1, got {n}")
        s = dilate_series(n, sigma, rng)
        splits.append(
            Split(
                torch.as_tensor(s[:, :20, None], dtype=torch.float32),
                torch.as_tensor(s[:, 20:], dtype=torch.float32),
            )
        )
    # no single training series here: the naive error is taken on the training inputs
    train_in = splits[0].x[..., 0].double()
    mase_scale = float((train_in[:, 1:] - train_in[:, :-1]).abs().mean())
    info = {"target_mean": 0.0, "target_std": 1.0, "mase_scale": mase_scale, "season": 1}
    return Dataset("dilate_synthetic", "forecast", *splits, info=info)


def _statsmodels_series(name: str, column: str) -> np.ndarray:
    import statsmodels.datasets as sm

    return getattr(sm, name).load_pandas().data[column]


def sunspots(
    *, input_len: int = 24, horizon: int = 6, val_size: float = 0.2, test_size: float = 0.2
) -> Dataset:
    """Yearly sunspot activity 1700-2008 (statsmodels, 309 values)."""
    series = _statsmodels_series("sunspots", "SUNACTIVITY").to_numpy()
    return chronological(
        "sunspots",
        series,
        input_len=input_len,
        horizon=horizon,
        val_size=val_size,
        test_size=test_size,
    )


def nile(
    *, input_len: int = 10, horizon: int = 5, val_size: float = 0.2, test_size: float = 0.2
) -> Dataset:
    """Yearly Nile flow at Aswan 1871-1970 (statsmodels, 100 values)."""
    series = _statsmodels_series("nile", "volume").to_numpy()
    return chronological(
        "nile", series, input_len=input_len, horizon=horizon, val_size=val_size, test_size=test_size
    )


def co2(
    *,
    input_len: int = 52,
    horizon: int = 13,
    gaps: str = "interpolate",
    val_size: float = 0.2,
    test_size: float = 0.2,
) -> Dataset:
    """Weekly Mauna Loa CO2 1958-2001 (statsmodels, 2284 weeks, 59 missing).

    ``gaps``: ``interpolate`` fills missing weeks linearly in time; ``drop`` removes them.
    """
    series = _statsmodels_series("co2", "co2")
    if gaps == "interpolate":
        series = series.interpolate(method="time").bfill()
    elif gaps == "drop":
        series = series.dropna()
    else:
        raise ConfigError(f"dataset.gaps must be interpolate or drop, got {gaps!r}")
    return chronological(
        "co2",
        series.to_numpy(),
        input_len=input_len,
        horizon=horizon,
        val_size=val_size,
        test_size=test_size,
        info={"gaps": gaps},
    )
