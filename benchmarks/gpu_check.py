"""GPU check: throughput of K batched seeds on a GPU vs the CPU, and CPU-vs-GPU agreement.

For whoever has a CUDA GPU (lossbench's CI has none). About 1-2 minutes on a GPU
machine; without a GPU only the CPU part runs and the GPU part says it was skipped.

1. Throughput (training samples per second, all members counted): ``build_experiment``
   + ``fit`` of the default MLP (``hidden_sizes=[64, 64]``) and a wider one
   (``[512, 512]``) on ``imbalanced`` (``--n-samples``, 60 % training rows) with
   K = 1, 5, 20 batched seeds, on the CPU (one torch thread, as a lossbench job) and on
   CUDA in fp32 and bf16; one warm-up fit per configuration first.
2. Agreement: 5 seeds of the default configuration trained on the CPU and on CUDA
   (fp32, same initialisation and sample order): each member's per-epoch train and
   validation loss within ``rel 1e-4`` and its test balanced accuracy within 0.02;
   bf16 against fp32 on the same device within ``rel 3e-2`` (losses) and 0.05.
   Any mismatch is printed and the script exits 1.

    python benchmarks/gpu_check.py [--epochs 3] [--n-samples 5000]

Run ``pytest -m gpu tests/test_device.py`` on the same machine for the per-loss checks.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch
from hydra import compose, initialize_config_dir

from lossbench.experiment import build_experiment, evaluate_members, predict_chosen
from lossbench.registry import config_dir

CHOICES = {"dataset": "imbalanced", "model": "mlp", "loss": "ce", "optimizer": "adam"}
MODELS = {"mlp [64, 64]": "[64,64]", "mlp [512, 512]": "[512,512]"}
KS = (1, 5, 20)


def config(device: str, precision: str, hidden: str, epochs: int, n_samples: int):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        return compose(
            "config",
            overrides=[
                "trainer.progress=false",
                f"trainer.epochs={epochs}",
                f"trainer.device={device}",
                f"trainer.precision={precision}",
                f"model.hidden_sizes={hidden}",
                f"dataset.n_samples={n_samples}",
            ],
        )


def fit(cfg, seeds: list[int]):
    """Train ``seeds`` batched; (seconds of the fit, results, test+val scores)."""
    exp = build_experiment(cfg, seeds, CHOICES)
    if exp.trainer.place.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    results = exp.trainer.fit()
    if exp.trainer.place.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    scores = evaluate_members(exp, results, predict_chosen(exp, results))
    return seconds, results, scores, len(exp.data.train)


def throughput(ways: list[tuple[str, str]], epochs: int, n_samples: int) -> None:
    print(f"\nthroughput: training samples/s over all members ({epochs} epochs, fit only)")
    header = f"{'model':<16} {'device':<12} " + " ".join(f"{f'K={k}':>12}" for k in KS)
    print(header + "\n" + "-" * len(header))
    for label, hidden in MODELS.items():
        for device, precision in ways:
            cells = []
            for k in KS:
                cfg = config(device, precision, hidden, epochs, n_samples)
                fit(cfg, list(range(k)))  # warm-up: kernels, allocator, first-call costs
                seconds, _, _, n_train = fit(cfg, list(range(k)))
                cells.append(f"{k * epochs * n_train / seconds:>12,.0f}")
            print(f"{label:<16} {f'{device} {precision}':<12} " + " ".join(cells))


def agree(a: tuple, b: tuple, what: str, rel: float, acc: float) -> list[str]:
    """Mismatches between two trainings of the same seeds (histories and test accuracy)."""
    problems = []
    _, res_a, scores_a, _ = a
    _, res_b, scores_b, _ = b
    for ra, rb, sa, sb in zip(res_a, res_b, scores_a, scores_b, strict=True):
        for ha, hb in zip(ra.history, rb.history, strict=True):
            for key in ("train_loss", "val_loss"):
                if not math.isclose(ha[key], hb[key], rel_tol=rel):
                    problems.append(
                        f"{what}: seed {ra.seed} epoch {ha['epoch']} {key} "
                        f"{ha[key]:.6g} vs {hb[key]:.6g} (rel tol {rel})"
                    )
        ba, bb = sa["test"]["balanced_accuracy"], sb["test"]["balanced_accuracy"]
        if abs(ba - bb) > acc:
            problems.append(f"{what}: seed {ra.seed} test balanced_accuracy {ba:.4f} vs {bb:.4f}")
    print(f"{what}: {'agree' if not problems else f'{len(problems)} mismatches'}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=5000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}; CPU: 1 thread", end="")
    print(f"; GPU: {torch.cuda.get_device_name()}" if cuda else "; no CUDA GPU")
    ways = [("cpu", "fp32")]
    if cuda:
        ways += [("cuda", "fp32")]
        if torch.cuda.is_bf16_supported():
            ways += [("cuda", "bf16")]
    throughput(ways, args.epochs, args.n_samples)

    print("\nagreement: 5 seeds of the default config, 10 epochs")
    seeds = [0, 1, 2, 3, 4]
    default = MODELS["mlp [64, 64]"]
    cpu = fit(config("cpu", "fp32", default, 10, args.n_samples), seeds)
    problems = agree(
        cpu,
        fit(config("cpu", "bf16", default, 10, args.n_samples), seeds),
        "cpu bf16 vs cpu fp32",
        3e-2,
        0.05,
    )
    if cuda:
        gpu = fit(config("cuda", "fp32", default, 10, args.n_samples), seeds)
        problems += agree(cpu, gpu, "cuda fp32 vs cpu fp32", 1e-4, 0.02)
        if torch.cuda.is_bf16_supported():
            problems += agree(
                gpu,
                fit(config("cuda", "bf16", default, 10, args.n_samples), seeds),
                "cuda bf16 vs cuda fp32",
                3e-2,
                0.05,
            )
    else:
        print("GPU part skipped: torch sees no CUDA GPU (only the CPU ran)")
    for line in problems:
        print("MISMATCH " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
