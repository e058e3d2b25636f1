"""Per-step cost of batching K seeds: hand-stacked MLP vs a plain module through
torch.func.vmap vs the same module in a loop (lossbench.models.functional).

Forward + backward of K=5 members on one batch, in microseconds, median of
``--repeats`` interleaved rounds, one thread:

    python benchmarks/bench_vmap.py [--repeats 5] [--k 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _plain_models import PlainMLP
from torch import nn

from lossbench.models import MLP, PlainMembers


def per_step_us(model: nn.Module, x: torch.Tensor, n: int = 100) -> float:
    """Mean microseconds of one forward + backward."""
    model(x).sum().backward()
    start = time.perf_counter()
    for _ in range(n):
        model(x).sum().backward()
    return (time.perf_counter() - start) / n * 1e6


def ln_gelu() -> nn.Module:
    return nn.Sequential(
        nn.Linear(20, 64), nn.LayerNorm(64), nn.GELU(),
        nn.Linear(64, 64), nn.LayerNorm(64), nn.GELU(),
        nn.Linear(64, 2),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = list(range(args.k))
    for batch in (128, 1024):
        x = torch.randn(args.k, batch, 20)
        models = {
            "hand-stacked MLP": MLP(20, 2, seeds=seeds),
            "plain MLP, vmap": PlainMembers(lambda: PlainMLP(20, 2), seeds, [20]),
            "plain MLP, loop": PlainMembers(lambda: PlainMLP(20, 2), seeds, [20], batching="loop"),
            "LN-GELU net, vmap": PlainMembers(ln_gelu, seeds, [20]),
            "LN-GELU net, loop": PlainMembers(ln_gelu, seeds, [20], batching="loop"),
        }
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.repeats):
            for name, model in models.items():
                times[name].append(per_step_us(model, x))
        print(f"K={args.k}, batch {batch}: forward + backward per step")
        for name, t in times.items():
            print(f"  {name:<20} {statistics.median(t):8.0f} us")


if __name__ == "__main__":
    main()
