"""Splits x seeds: what training the splits one after another costs (issue 9).

A job with ``splits=S seeds=K`` trains one stacked model of K members per split
(each split has its own training data), S trainings in a row. Stacking all S*K
members in one model would need per-member training data; its best case is
bounded by one stacked model of S*K seeds on one split, timed here beside the
loop (build + fit + evaluation, in-process, interleaved, median of ``--repeats``).

    python benchmarks/bench_splits.py [--splits 5] [--seeds 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from _timing import interleaved, report
from hydra import compose, initialize_config_module

from lossbench.experiment import build_experiment, evaluate_members, predict_chosen

CHOICES = {"dataset": "digits_lt", "model": "mlp", "loss": "ce", "optimizer": "adam"}


def train(cfg, split: int, seeds: list[int]) -> None:
    cfg = copy.deepcopy(cfg)
    cfg.dataset.seed = split
    exp = build_experiment(cfg, seeds, CHOICES)
    results = exp.trainer.fit()
    evaluate_members(exp, results, predict_chosen(exp, results))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with initialize_config_module("lossbench.configs", version_base="1.3"):
        cfg = compose("config", overrides=["dataset=digits_lt", "trainer.progress=false"])
    s, k = args.splits, args.seeds
    train(cfg, 0, [0])  # warm-up
    med = interleaved(
        {
            f"{s} splits x {k} seeds (loop)": lambda: timed(
                lambda: [train(cfg, d, list(range(k))) for d in range(s)]
            ),
            f"1 split x {s * k} seeds (bound)": lambda: timed(
                lambda: train(cfg, 0, list(range(s * k)))
            ),
        },
        args.repeats,
    )
    report(med, f"digits_lt, MLP, CE, Adam, 30 epochs, median of {args.repeats}, 1 thread")
    a, b = med.values()
    print(f"loop / one stacked model = {a / b:.2f}x")


if __name__ == "__main__":
    main()
