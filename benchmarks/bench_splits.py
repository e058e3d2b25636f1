"""Splits x seeds: one stacked model across splits vs one per split (issue 9).

A job with ``splits=S seeds=K`` trains all S*K members in one stacked model, each
member reading its own split's rows (the runner does this when the splits'
datasets are alike). Timed beside it: the S splits one after another (one
stacked model of K seeds each), and one model of S*K seeds on one split (the
bound). Build + fit + evaluation, in-process, interleaved, median of ``--repeats``.

    python benchmarks/bench_splits.py [--splits 5] [--seeds 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from _timing import interleaved, report
from hydra import compose, initialize_config_dir

from lossbench.experiment import build_data, build_experiment, evaluate_members, predict_chosen
from lossbench.registry import config_dir

CHOICES = {"dataset": "digits_lt", "model": "mlp", "loss": "ce", "optimizer": "adam"}


def _split(cfg, split: int):
    cfg = copy.deepcopy(cfg)
    cfg.dataset.seed = split
    return cfg


def train(cfg, split: int, seeds: list[int]) -> None:
    exp = build_experiment(_split(cfg, split), seeds, CHOICES)
    results = exp.trainer.fit()
    evaluate_members(exp, results, predict_chosen(exp, results))


def train_across(cfg, splits: int, seeds: int) -> None:
    data = [build_data(_split(cfg, d)) for d in range(splits)]
    members = [(d, s) for d in range(splits) for s in range(seeds)]
    datasets = [data[d] for d, _ in members]
    exp = build_experiment(cfg, [s for _, s in members], CHOICES, datasets)
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
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["dataset=digits_lt", "trainer.progress=false"])
    s, k = args.splits, args.seeds
    train(cfg, 0, [0])  # warm-up
    med = interleaved(
        {
            f"{s} splits x {k} seeds, one model": lambda: timed(lambda: train_across(cfg, s, k)),
            f"{s} splits x {k} seeds, split loop": lambda: timed(
                lambda: [train(cfg, d, list(range(k))) for d in range(s)]
            ),
            f"1 split x {s * k} seeds (bound)": lambda: timed(
                lambda: train(cfg, 0, list(range(s * k)))
            ),
        },
        args.repeats,
    )
    report(med, f"digits_lt, MLP, CE, Adam, 30 epochs, median of {args.repeats}, 1 thread")
    now, loop, bound = med.values()
    print(f"split loop / one model = {loop / now:.2f}x; one model / bound = {now / bound:.2f}x")


if __name__ == "__main__":
    main()
