"""Resume at scale: a sweep with 20,000 earlier records vs the same sweep with none.

Fake earlier records (``--records``, default 20,000) are written in the layout real
sweeps leave: ``outputs/multirun/<day>/<time>/<job>/seed_<s>/metrics.json`` beside each
job's ``.hydra/`` folder, ~1.3 kB each, none matching the sweep's configs. Ways,
whole process, interleaved, median of ``--repeats`` rounds, all running
``lossbench run -m +experiment=longtail_losses loss=ce,focal`` (2 jobs x 5 seeds):
  * ``no earlier records``: ``report.resume_from`` is an empty directory;
  * ``N earlier records``: ``report.resume_from`` holds them (the cache file written
    by the first round is reused, as in a project's life);
  * with ``--cold``, also ``N records, cold``: the cache file deleted before each run
    (what the first sweep after an upgrade pays once).
Also timed in-process: building the index cold (parsing every file) and warm.
Target (issue 12): ``N earlier records`` within 1.1x of ``no earlier records``.

    python benchmarks/bench_resume.py [--repeats 5] [--records 20000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from _timing import load, lossbench_cmd, run_process

from lossbench.resume import INDEX_FILE, ResumeIndex

LOSSES = ["ce", "focal", "class_balanced", "ldam", "logit_adjusted", "balanced_softmax"]


def fake_records(root: Path, n: int) -> None:
    """``n`` completed records, 8 jobs x 5 seeds per sweep, none of them resumable here."""
    rng = random.Random(0)
    per_sweep = 40
    for i in range(0, n, per_sweep):
        sweep = root / f"2026-{1 + i // 4000:02d}-01" / f"{i // per_sweep:06d}"
        for job in range(8):
            job_dir = sweep / str(job)
            (job_dir / ".hydra").mkdir(parents=True)
            for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
                (job_dir / ".hydra" / name).write_text("# saved by Hydra\n")
            for seed in range(5):
                if i + job * 5 + seed >= n:
                    return
                d = job_dir / f"seed_{seed}"
                d.mkdir()
                rec = {
                    "status": "completed",
                    "seed": seed,
                    "choices": {"dataset": "digits_lt", "model": "mlp",
                                "loss": rng.choice(LOSSES), "optimizer": "adam"},
                    "overrides": ["+experiment=longtail_losses", f"seed={seed}"],
                    "task": "classification",
                    "metrics": {f"m{k}": rng.random() for k in range(12)},
                    "val_metrics": {f"m{k}": rng.random() for k in range(12)},
                    "config_hash": f"{rng.getrandbits(64):016x}",
                    "versions": {"lossbench": "0.1.0", "torch": "2.13.0"},
                    "wall_time_s": rng.random(),
                }  # fmt: skip
                (d / "metrics.json").write_text(json.dumps(rec, indent=2))
                (d / "history.csv").write_text("epoch,train_loss\n1,0.5\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--cold", action="store_true", help="also time sweeps without cache")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stored, empty = work / "outputs" / "multirun", work / "empty"
        empty.mkdir()
        start = time.perf_counter()
        fake_records(stored, args.records)
        print(f"wrote {args.records} records in {time.perf_counter() - start:.1f} s")

        # In-process: the index itself, cold (parse all) and warm (cache file).
        start = time.perf_counter()
        ResumeIndex([stored], cached_roots=[stored])
        cold = time.perf_counter() - start
        start = time.perf_counter()
        ResumeIndex([stored], cached_roots=[stored])
        warm = time.perf_counter() - start
        print(f"index of {args.records} records in-process: cold {cold:.2f} s, "
              f"warm {warm:.2f} s")  # fmt: skip

        counter = iter(range(10**6))

        def sweep(root: Path, cold: bool = False):
            def way() -> float:
                if cold:
                    (root / INDEX_FILE).unlink(missing_ok=True)
                cmd = lossbench_cmd(
                    "run", "-m", "+experiment=longtail_losses", "loss=ce,focal",
                    "trainer.progress=false", "report.plots=false",
                    f"report.resume_from=[{root}]", f"hydra.sweep.dir=sweeps/s{next(counter)}",
                )  # fmt: skip
                return run_process(cmd, work)

            return way

        n = f"{args.records} earlier records"
        ways = {"no earlier records": sweep(empty), n: sweep(stored)}
        if args.cold:
            ways[f"{args.records} records, cold"] = sweep(stored, cold=True)
        print(load())
        times: dict[str, list[float]] = {name: [] for name in ways}
        for r in range(args.repeats):
            for name, fn in ways.items():
                times[name].append(fn())
            print(f"round {r + 1}: " + ", ".join(f"{k} {t[-1]:.2f} s" for k, t in times.items())
                  + f"; {load()}")  # fmt: skip
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"\n2 jobs x 5 seeds (longtail_losses, loss=ce,focal), whole process, "
          f"median of {args.repeats} interleaved rounds; {load()}")  # fmt: skip
    for name, t in med.items():
        print(f"  {name:<30} {t:7.2f} s   {t / med['no earlier records']:5.2f}x")
    print(f"{n} / none = {med[n] / med['no earlier records']:.2f}x  (target <= 1.1)")


if __name__ == "__main__":
    main()
