"""Sweep throughput: ``lossbench run -m +experiment=longtail_losses``, whole process.

The issue-6 target: the preset (8 losses x 5 seeds on ``digits_lt``) in under 60 s
here. Ways, interleaved, median of ``--repeats`` rounds:
  * the preset as shipped: one job per (loss, seed), 40 jobs;
  * the 5 seeds of each loss batched in one job (``seed=0 seeds=5``), 8 jobs;
  * the same with two jobs side by side (``hydra/launcher=joblib``, 1 thread each).

    python benchmarks/bench_sweep.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _timing import interleaved, lossbench_cmd, report, run_process

PRESET = "+experiment=longtail_losses"
WAYS = {
    "as shipped (40 jobs)": [PRESET],
    "seeds=5 batched (8 jobs)": [PRESET, "seed=0", "seeds=5"],
    "seeds=5, 2 jobs side by side": [
        PRESET, "seed=0", "seeds=5", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
    ],
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        counter = iter(range(10**6))

        def way(overrides: list[str]):
            return lambda: run_process(
                lossbench_cmd(
                    "run", "-m", *overrides, "trainer.progress=false", "report.resume=false",
                    f"hydra.sweep.dir=s{next(counter)}",
                ),
                work,
            )  # fmt: skip

        med = interleaved({name: way(o) for name, o in WAYS.items()}, args.repeats)
    report(med, f"8 losses x 5 seeds on digits_lt ({PRESET}), whole process, "
                f"median of {args.repeats} interleaved rounds")  # fmt: skip
    print(f"fastest: {min(med.values()):.1f} s  (target < 60 s)")


if __name__ == "__main__":
    main()
