"""Runner overhead: ``lossbench run`` (default config) vs a minimal PyTorch script.

Both are whole processes doing the same training on the same data (see
``minimal_train.py``), interleaved, median of ``--repeats`` rounds. Target
(issue 6): lossbench at most 1.15x the minimal script's time.

    python benchmarks/bench_overhead.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _timing import interleaved, lossbench_cmd, report, run_process

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        counter = iter(range(10**6))
        script = [sys.executable, str(HERE / "minimal_train.py")]
        med = interleaved(
            {
                "lossbench run": lambda: run_process(
                    lossbench_cmd(
                        "run", "trainer.progress=false", f"hydra.run.dir=j{next(counter)}"
                    ),
                    work,
                ),
                "minimal PyTorch script": lambda: run_process(
                    [*script, str(work / f"m{next(counter)}.json")], work
                ),
            },
            args.repeats,
        )
    report(med, f"default config, whole process, median of {args.repeats} interleaved rounds")
    ratio = med["lossbench run"] / med["minimal PyTorch script"]
    print(f"lossbench / minimal script = {ratio:.2f}x  (target <= 1.15)")


if __name__ == "__main__":
    main()
