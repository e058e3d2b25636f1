"""Final evaluation vs fit time as the number of batched seeds K grows (issue 12).

For K seeds of ``dataset=digits_lt`` (default MLP, CE, Adam, 30 epochs) trained as
one stacked model, times the fit and two ways to evaluate every member at its
chosen epoch, on the same trained model, and checks they give identical metrics:
  * ``predict before``: load member k's state, predict test and validation for
    all K members, keep member k: O(K^2) predictions;
  * ``predict now`` (:func:`lossbench.experiment.predict_chosen`): load every
    member's state, predict each split once for all members;
then ``metrics``: the test and validation metrics of every member (the same
code either way, :func:`lossbench.experiment.evaluate_members`). Predictions
must be bit-identical. Target (issue 12): evaluation < 5 % of fit time at K = 50.

    python benchmarks/bench_eval.py [--seeds 5 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from hydra import compose, initialize_config_dir

from lossbench.experiment import EVAL_SPLITS, build_experiment, evaluate_members, predict_chosen
from lossbench.registry import config_dir

CHOICES = {"dataset": "digits_lt", "model": "mlp", "loss": "ce", "optimizer": "adam"}


def per_member(exp, results) -> dict[str, list[torch.Tensor]]:
    """The former prediction step: all K members predicted once per member (O(K^2))."""
    trainer, out = exp.trainer, {name: [] for name in EVAL_SPLITS}
    for k, result in enumerate(results):
        trainer.load_member_state(k, result.state)
        for name in EVAL_SPLITS:
            out[name].append(trainer.predict(getattr(exp.data, name))[k])
    return out


def one_round(cfg, k: int) -> tuple[float, ...]:
    """Seconds of: fit, predictions before, predictions now, metrics (same either way)."""
    exp = build_experiment(cfg, list(range(k)), CHOICES)
    times = []
    start = time.perf_counter()
    results = exp.trainer.fit()
    times.append(time.perf_counter() - start)
    start = time.perf_counter()
    before = per_member(exp, results)
    times.append(time.perf_counter() - start)
    start = time.perf_counter()
    now = predict_chosen(exp, results)
    times.append(time.perf_counter() - start)
    for name in EVAL_SPLITS:  # bit-identical predictions, hence metrics
        assert all(torch.equal(before[name][j], now[name][j]) for j in range(k))
    start = time.perf_counter()
    evaluate_members(exp, results, now)
    times.append(time.perf_counter() - start)
    return tuple(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 50])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["dataset=digits_lt", "trainer.progress=false"])
    one_round(cfg, 2)  # warm-up
    print(
        f"digits_lt, MLP, CE, Adam, 30 epochs; median of {args.repeats}; torch "
        f"{torch.__version__}, 1 thread"
    )
    print(
        f"{'K':>4} {'fit s':>8} {'predict before':>15} {'predict now':>12} {'metrics':>8}"
        f" {'eval before/fit':>16} {'eval now/fit':>13}"
    )
    for k in args.seeds:
        rounds = [one_round(cfg, k) for _ in range(args.repeats)]
        fit, old, new, scores = (statistics.median(r[i] for r in rounds) for i in range(4))
        print(
            f"{k:>4} {fit:8.3f} {old:15.3f} {new:12.3f} {scores:8.3f}"
            f" {(old + scores) / fit:16.1%} {(new + scores) / fit:13.1%}"
        )


if __name__ == "__main__":
    main()
