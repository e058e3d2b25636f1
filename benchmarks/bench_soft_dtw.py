"""Soft-DTW speed: forward + backward of lossbench's backends against tslearn, as ratios.

Batch 32, D = 1, γ = 1, float32 inputs (what a model emits), lengths 64 and 128.
Columns, interleaved within each repeat, median over repeats:

* ``torch``: lossbench's anti-diagonal torch backend (the fallback);
* ``numba``: lossbench's numba kernels as shipped (serial over the batch);
* ``numba-par``: the same kernels compiled with ``parallel=True`` (batch spread over
  ``NUMBA_NUM_THREADS`` threads), to decide whether parallel kernels are worth shipping;
* ``tslearn``: ``tslearn.metrics.SoftDTWLossPyTorch`` (not a dependency: ``pip install
  tslearn`` into the benchmark's environment; the column is skipped without it).

Values and gradients must agree with tslearn (or with the torch backend) to 1e-5
relative. Target (issue 6): numba at least as fast as tslearn at length 128.

    python benchmarks/bench_soft_dtw.py [--repeats 7] [--lengths 64 128] [--no-parallel]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import time
from collections.abc import Callable
from types import SimpleNamespace

import torch

from lossbench.losses import soft_dtw as sd

BATCH, GAMMA = 32, 1.0


class Parallel:
    """Runs a step with the shipped kernels recompiled ``parallel=True`` (``prange`` over
    one batch slice per numba thread), by swapping them into the numba adapter."""

    def __init__(self) -> None:
        import numba

        from lossbench.losses import _soft_dtw_numba as k

        self.kernels = SimpleNamespace(
            **{n: numba.njit(parallel=True)(getattr(k, n).py_func) for n in ("forward", "backward")}
        )
        self.chunks = numba.get_num_threads()
        self.loss = sd.SoftDTWLoss(gamma=GAMMA, normalize=False, backend="numba", reduction="none")

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss(x, y)

    def __enter__(self) -> None:
        self.saved = (sd._NUMBA._mod, sd._NUMBA.chunks)
        sd._NUMBA._mod, sd._NUMBA.chunks = self.kernels, self.chunks

    def __exit__(self, *exc: object) -> None:
        sd._NUMBA._mod, sd._NUMBA.chunks = self.saved


def step(x: torch.Tensor, y: torch.Tensor, value: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward + backward; returns the per-series values and the gradient."""
    xr = x.clone().requires_grad_()
    with value if isinstance(value, Parallel) else contextlib.nullcontext():
        out = value(xr, y)
        out.sum().backward()
    return out.detach(), xr.grad


def shipped(backend: str) -> Callable:
    return sd.SoftDTWLoss(gamma=GAMMA, normalize=False, backend=backend, reduction="none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--no-parallel", action="store_true", help="skip the numba-par column")
    args = parser.parse_args()
    torch.set_num_threads(1)

    methods: dict[str, Callable] = {"torch": shipped("torch")}
    has_numba = importlib.util.find_spec("numba") is not None
    if has_numba:
        methods["numba"] = shipped("numba")
        if not args.no_parallel:
            methods["numba-par"] = Parallel()
    else:
        print("note: numba is not installed; numba columns skipped (pip install 'lossbench[fast]')")
    if importlib.util.find_spec("tslearn") is not None:
        from tslearn.metrics import SoftDTWLossPyTorch

        methods["tslearn"] = SoftDTWLossPyTorch(gamma=GAMMA, normalize=False)
    else:
        print("note: tslearn is not installed; its column is skipped (pip install tslearn)")
    if has_numba:
        import numba

        print(f"numba {numba.__version__}, NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} torch thread, {os.cpu_count()} CPUs;"
        f" batch {BATCH}, D=1, gamma={GAMMA}, float32, forward + backward, "
        f"median of {args.repeats} interleaved repeats (ms)"
    )

    base = "tslearn" if "tslearn" in methods else "torch"
    names = list(methods)
    header = f"{'length':>6} " + " ".join(f"{n:>10}" for n in names)
    header += " " + " ".join(f"{n + '/' + base:>18}" for n in names if n != base)
    print(header)
    for length in args.lengths:
        g = torch.Generator().manual_seed(length)
        x = torch.randn(BATCH, length, 1, generator=g)
        y = torch.randn(BATCH, length, 1, generator=g)
        ref_value, ref_grad = step(x, y, methods[base])  # also compiles / warms up
        for name in names:
            value, grad = step(x, y, methods[name])
            torch.testing.assert_close(value, ref_value, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-5)
        times: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.repeats):
            for name in names:
                start = time.perf_counter()
                step(x, y, methods[name])
                times[name].append(time.perf_counter() - start)
        med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        row = f"{length:>6} " + " ".join(f"{med[n]:>10.2f}" for n in names)
        row += " " + " ".join(f"{med[n] / med[base]:>18.2f}" for n in names if n != base)
        print(row)
    print(f"values and gradients agree with {base} to 1e-5 (relative) at every length")


if __name__ == "__main__":
    main()
