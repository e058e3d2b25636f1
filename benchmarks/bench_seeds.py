"""Batched seeds: 5 seeds of the default MLP configuration in one job, as ratios.

Three ways, interleaved, median of ``--repeats`` rounds:
  * ``batched job``: ``lossbench run seeds=5`` (one process, one stacked model);
  * ``5 CLI runs``: ``lossbench run seed=s`` for s = 0..4, one process after another;
  * in one process (no start-up cost): the 5 seeds trained and evaluated one after
    another, vs the same 5 seeds trained and evaluated as one stacked model;
  * the same MLP as a plain ``nn.Module`` (``benchmarks/_plain_models.py``) through
    ``model=custom``: its 5 seeds batched with torch.func.vmap, and (``_batching_=loop``)
    one after another: is hand-stacking the built-in models still worth it? (issue 10)
Targets (issue 6): batched job >= 2.5x faster than 5 CLI runs; in-process batched
>= 1.8x faster than 5 sequential trainings. Issue 10: the built-in models stay
hand-stacked while vmap / stacked > 1.

    python benchmarks/bench_seeds.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from _timing import interleaved, lossbench_cmd, report, run_process
from hydra import compose, initialize_config_dir

from lossbench.experiment import build_experiment, evaluate_members, predict_chosen
from lossbench.registry import config_dir

SEEDS = [0, 1, 2, 3, 4]
CHOICES = {"dataset": "imbalanced", "model": "mlp", "loss": "ce", "optimizer": "adam"}


def in_process(cfg, groups: list[list[int]]) -> float:
    """Train and evaluate each group of seeds as one stacked model; total seconds."""
    start = time.perf_counter()
    for seeds in groups:
        exp = build_experiment(cfg, seeds, CHOICES)
        results = exp.trainer.fit()
        evaluate_members(exp, results, predict_chosen(exp, results))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    plain = ["model=custom", "model._target_=_plain_models.PlainMLP"]
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["trainer.progress=false"])
        vmapped = compose("config", overrides=["trainer.progress=false", *plain])
        looped = compose(
            "config", overrides=["trainer.progress=false", *plain, "model._batching_=loop"]
        )
    quiet = "trainer.progress=false"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        counter = iter(range(10**6))

        def batched_job() -> float:
            return run_process(
                lossbench_cmd("run", "seeds=5", quiet, f"hydra.run.dir=b{next(counter)}"), work
            )

        def cli_runs() -> float:
            return sum(
                run_process(
                    lossbench_cmd("run", f"seed={s}", quiet, f"hydra.run.dir=s{next(counter)}"),
                    work,
                )
                for s in SEEDS
            )

        for c in (cfg, vmapped, looped):
            in_process(c, [[0]])  # warm-up: imports, first-call costs
        med = interleaved(
            {
                "batched job (seeds=5, 1 process)": batched_job,
                "5 CLI runs, one after another": cli_runs,
                "in-process: 1 stacked model": lambda: in_process(cfg, [SEEDS]),
                "in-process: 5 sequential": lambda: in_process(cfg, [[s] for s in SEEDS]),
                "in-process: plain MLP, vmap": lambda: in_process(vmapped, [SEEDS]),
                "in-process: plain MLP, loop": lambda: in_process(looped, [SEEDS]),
            },
            args.repeats,
        )
    report(
        med,
        f"5 seeds of the default config (MLP, CE, Adam, 30 epochs), median of {args.repeats} "
        f"interleaved rounds, torch {torch.__version__}, 1 thread",
    )
    names = list(med)
    print(f"5 CLI runs   / batched job = {med[names[1]] / med[names[0]]:.2f}x  (target >= 2.5)")
    print(f"5 sequential / stacked     = {med[names[3]] / med[names[2]]:.2f}x  (target >= 1.8)")
    print(f"plain vmap   / stacked     = {med[names[4]] / med[names[2]]:.2f}x  (>1: stack)")
    print(f"plain loop   / plain vmap  = {med[names[5]] / med[names[4]]:.2f}x")


if __name__ == "__main__":
    main()
