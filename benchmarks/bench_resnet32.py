"""How long one training epoch of the image models takes: ResNet-32 (and the small CNN)
on CIFAR-sized input, 1000 generated 3x32x32 images, batch 128, Adam.

Times whole epochs of the lossbench member model (``model=resnet32``, K seeds), the
forward/backward/step the trainer runs, after one warm-up step. Also tells vmap from
loop batching of K seeds (``--k 2``). On a GPU: ``--device cuda`` (the runner's
``trainer.device=cuda`` does the same moves).

    python benchmarks/bench_resnet32.py [--n 1000] [--k 1] [--device cpu] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from lossbench.models import CNN, PlainMembers, ResNet32


def epoch_seconds(factory, args, batching: str) -> float:
    """Seconds of one epoch over ``args.n`` images (mean of ``args.epochs`` epochs)."""
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.n, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 10, (args.n,), generator=g).to(device)
    model = PlainMembers(factory, list(range(args.k)), [3, 32, 32], batching=batching)
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(idx: torch.Tensor) -> None:
        out = model(x[idx].unsqueeze(0).expand(args.k, len(idx), 3, 32, 32))
        loss = sum(torch.nn.functional.cross_entropy(out[m], y[idx]) for m in range(args.k))
        for p in model.parameters():
            p.grad = None
        loss.backward()
        opt.step()

    step(torch.arange(min(args.batch, args.n), device=device))  # warm-up
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(args.n, generator=g).to(device)
        for i in range(0, args.n, args.batch):
            step(order[i : i + args.batch])
    sync()
    return (time.perf_counter() - start) / args.epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--k", type=int, default=1, help="seeds in one member model")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batching", default="auto", choices=["auto", "vmap", "loop"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = {
        "resnet32": lambda: ResNet32(3072, 10, input_shape=[3, 32, 32]),
        "cnn": lambda: CNN(3072, 10, input_shape=[3, 32, 32]),
    }
    print(
        f"{args.n} images 3x32x32, batch {args.batch}, K={args.k}, {args.device}, "
        f"{args.threads} thread(s), batching={args.batching}, torch {torch.__version__}"
    )
    for name, factory in models.items():
        sec = epoch_seconds(factory, args, args.batching)
        print(f"  {name:<9} {sec:7.2f} s/epoch  ({args.n * args.k / sec:7.0f} images/s)")


if __name__ == "__main__":
    main()
