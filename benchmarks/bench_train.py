"""Training-loop speed: lossbench's loop vs plain PyTorch loops, as ratios from one run.

The same MLP (in-64-64-2) on the same data (the default ``imbalanced`` set) for the
same epochs, three ways, interleaved and repeated; each way validates once per
epoch as lossbench does. Targets (issue 2): lossbench >= 2.5x faster than the
DataLoader loop and no slower than the plain in-memory slicing loop.

    python benchmarks/bench_train.py [--epochs 30] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lossbench.data.synthetic import imbalanced
from lossbench.losses import CrossEntropyLoss
from lossbench.models import MLP
from lossbench.training.loop import Trainer, TrainSettings

BATCH = 128


def plain_model(in_features: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(in_features, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2)
    )


def run_lossbench(data, epochs: int) -> None:
    model = MLP(data.in_features, 2, seeds=[0])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    settings = TrainSettings(
        epochs=epochs,
        batch_size=BATCH,
        monitor="balanced_accuracy",
        patience=None,
        evaluate="best",
        progress=False,
        fail_on_nan=False,
    )
    Trainer(model, CrossEntropyLoss(), opt, data, settings).fit()


def run_dataloader(data, epochs: int) -> None:
    torch.manual_seed(0)
    model = plain_model(data.in_features)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(data.train.x, data.train.y), batch_size=BATCH, shuffle=True)
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            nn.functional.cross_entropy(model(data.val.x), data.val.y)


def run_slicing(data, epochs: int) -> None:
    torch.manual_seed(0)
    model = plain_model(data.in_features)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data.train.x, data.train.y
    n = len(y)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n)
        for start in range(0, n, BATCH):
            idx = perm[start : start + BATCH]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            nn.functional.cross_entropy(model(data.val.x), data.val.y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = imbalanced()
    ways = {"lossbench": run_lossbench, "dataloader": run_dataloader, "slicing": run_slicing}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for fn in ways.values():  # warm-up
        fn(data, 1)
    for _ in range(args.repeats):
        for name, fn in ways.items():
            start = time.perf_counter()
            fn(data, args.epochs)
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(
        f"{len(data.train)} training rows, batch {BATCH}, {args.epochs} epochs, "
        f"median of {args.repeats} interleaved repeats, torch {torch.__version__}, 1 thread"
    )
    for name, t in med.items():
        print(f"  {name:<11} {t * 1000:8.1f} ms")
    print(f"dataloader / lossbench = {med['dataloader'] / med['lossbench']:.2f}x  (target >= 2.5)")
    print(f"slicing    / lossbench = {med['slicing'] / med['lossbench']:.2f}x  (target >= 1.0)")


if __name__ == "__main__":
    main()
