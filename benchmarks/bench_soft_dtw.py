"""Soft-DTW speed: forward + backward of lossbench's backends against tslearn, as ratios.

Batch 32, D = 1, γ = 1, float32 inputs (what a model emits), lengths 64 and 128.
Columns, interleaved within each repeat, median over repeats:

* ``torch``: lossbench's anti-diagonal torch backend (the fallback);
* ``numba``: lossbench's numba kernels as shipped (serial);
* ``numba-par``: the same kernels compiled ``parallel=True``, the batch split over all
  numba threads: measured to decide whether parallel kernels are worth shipping;
* ``tslearn``: ``tslearn.metrics.SoftDTWLossPyTorch`` with 1 numba thread, the way
  lossbench jobs run (the CLI sets ``NUMBA_NUM_THREADS=1``; jobs run side by side);
* ``tslearn-par``: the same with all numba threads (its kernels use ``prange``).

tslearn is not a dependency: ``pip install tslearn`` into the benchmark's environment;
its columns are skipped without it. Values and gradients must agree with the
reference column (tslearn, else torch) to 1e-5 relative. Target (issue 6): numba
at least as fast as tslearn at length 128. Torch runs one thread throughout; numba's
threading layer can reset that, so it is set again after every step.

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
from dataclasses import dataclass, field
from types import SimpleNamespace

import torch

from lossbench.losses import soft_dtw as sd

BATCH, GAMMA = 32, 1.0


@dataclass
class Method:
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    numba_threads: int | None = None  # set before each step when numba is present
    context: Callable[[], contextlib.AbstractContextManager] = field(default=contextlib.nullcontext)


@contextlib.contextmanager
def parallel_kernels(kernels: SimpleNamespace, chunks: int):
    """Swap the parallel-compiled kernels into lossbench's numba adapter (forward + backward)."""
    saved = (sd._NUMBA._mod, sd._NUMBA.chunks)
    sd._NUMBA._mod, sd._NUMBA.chunks = kernels, chunks
    try:
        yield
    finally:
        sd._NUMBA._mod, sd._NUMBA.chunks = saved


def shipped(backend: str) -> sd.SoftDTWLoss:
    return sd.SoftDTWLoss(gamma=GAMMA, divergence=False, backend=backend, reduction="none")


def methods(parallel: bool) -> dict[str, Method]:
    out = {"torch": Method(shipped("torch"))}
    if importlib.util.find_spec("numba") is None:
        print("note: numba is not installed; numba columns skipped (pip install 'lossbench[fast]')")
    else:
        import numba

        from lossbench.losses import _soft_dtw_numba as k

        every = numba.config.NUMBA_NUM_THREADS
        out["numba"] = Method(shipped("numba"), 1)
        if parallel:
            par = numba.njit(parallel=True)
            swap = SimpleNamespace(forward=par(k.forward.py_func), backward=par(k.backward.py_func))
            out["numba-par"] = Method(
                shipped("numba"), every, lambda: parallel_kernels(swap, every)
            )
    if importlib.util.find_spec("tslearn") is None:
        print("note: tslearn is not installed; its columns are skipped (pip install tslearn)")
    else:
        import numba  # a tslearn dependency
        from tslearn.metrics import SoftDTWLossPyTorch

        tslearn = SoftDTWLossPyTorch(gamma=GAMMA, divergence=False)
        out["tslearn"] = Method(tslearn, 1)
        if parallel:
            out["tslearn-par"] = Method(tslearn, numba.config.NUMBA_NUM_THREADS)
    return out


def step(x: torch.Tensor, y: torch.Tensor, method: Method) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward + backward; returns the per-series values and the gradient."""
    if method.numba_threads is not None:
        import numba

        numba.set_num_threads(method.numba_threads)
    xr = x.clone().requires_grad_()
    with method.context():
        out = method.fn(xr, y)
        out.sum().backward()
    torch.set_num_threads(1)
    return out.detach(), xr.grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--no-parallel", action="store_true", help="skip the -par columns")
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = methods(parallel=not args.no_parallel)
    names = list(table)
    base = "tslearn" if "tslearn" in table else "torch"
    if "numba" in table:
        import numba

        print(f"numba {numba.__version__}, NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}")
    print(
        f"torch {torch.__version__} (1 thread), {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; batch {BATCH}, D=1, gamma={GAMMA}, float32, "
        f"forward + backward, median of {args.repeats} interleaved repeats, ms"
    )
    header = f"{'length':>6} " + " ".join(f"{n:>11}" for n in names)
    print(header + "  " + " ".join(f"{n + '/' + base:>19}" for n in names if n != base))
    for length in args.lengths:
        g = torch.Generator().manual_seed(length)
        x = torch.randn(BATCH, length, 1, generator=g)
        y = torch.randn(BATCH, length, 1, generator=g)
        ref_value, ref_grad = step(x, y, table[base])
        for name in names:  # also compiles / warms up
            value, grad = step(x, y, table[name])
            torch.testing.assert_close(value, ref_value, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-5)
        times: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.repeats):
            for name in names:
                start = time.perf_counter()
                step(x, y, table[name])
                times[name].append(time.perf_counter() - start)
        med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        row = f"{length:>6} " + " ".join(f"{med[n]:>11.2f}" for n in names)
        print(row + "  " + " ".join(f"{med[n] / med[base]:>19.2f}" for n in names if n != base))
    print(f"values and gradients agree with {base} to 1e-5 (relative) at every length")


if __name__ == "__main__":
    main()
