"""Learning-curve evidence for a preset's training budget (issue 9, item 1).

Reads finished sweeps (``metrics.json`` + ``history.csv`` of every job or batched
member under the given directories) and, for each configuration (loss and swept keys,
with ``seed`` and ``dataset.seed`` pooled as replicates), prints:

- the best epoch (by ``val_<monitor>``) of every replicate and how many fall in the last
  10% of the epochs run;
- for shorter budgets E (a prefix of the same curves: without a learning-rate schedule,
  a run of E epochs is exactly the first E epochs of a longer run), the median best
  epoch within E, the share of replicates whose best epoch lies in E's last 10%, and the
  median gap between the best validation value within E and within the whole run (how
  much a budget of E leaves on the table).

Budgets are only valid as prefixes for losses without an epoch-dependent schedule
(not for ``drw_epoch`` given as a fraction).

With ``--metric NAME`` it prints instead each configuration's test metric over all
(split, seed) replicates and its difference from ``--baseline``, paired by (split, seed),
overall and per split (a quick pooled view; the report's statistics are the reference).

Usage: ``python benchmarks/learning_curves.py SWEEP_DIR [...] [--loss ce] [--budgets 50,100]``
       ``python benchmarks/learning_curves.py SWEEP_DIR --metric balanced_accuracy``
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

import pandas as pd

from lossbench.evaluation.metrics import GREATER_IS_BETTER

REPLICATE_KEYS = ("seed", "dataset.seed", "seeds", "splits")
# shown elsewhere (loss) or not a property of the configuration
IGNORED_KEYS = ("loss", "experiment", "trainer.epochs", "trainer.progress")


def config_key(record: dict) -> str:
    """The configuration a record belongs to: its loss and overrides without replicate keys."""
    parts = [f"loss={record['choices'].get('loss', '?')}"]
    for ov in record.get("overrides", []):
        key = ov.split("=", 1)[0].lstrip("+~")
        if key in REPLICATE_KEYS or key in IGNORED_KEYS or key.startswith(("report.", "hydra")):
            continue
        parts.append(ov)
    return " ".join(parts)


def load(dirs: list[Path]) -> dict[str, list[tuple[dict, pd.DataFrame]]]:
    groups: dict[str, list[tuple[dict, pd.DataFrame]]] = defaultdict(list)
    for d in dirs:
        for mfile in sorted(d.rglob("metrics.json")):
            hfile = mfile.with_name("history.csv")
            if not hfile.exists():
                continue
            rec = json.loads(mfile.read_text())
            if rec.get("status") != "completed":
                continue
            groups[config_key(rec)].append((rec, pd.read_csv(hfile)))
    return groups


def best_within(values: list[float], budget: int, greater: bool) -> tuple[int, float]:
    """(1-based best epoch, best value) among the first ``budget`` epochs (first on ties)."""
    head = values[:budget]
    best = max(head) if greater else min(head)
    return head.index(best) + 1, best


def summarise(name: str, runs: list[tuple[dict, pd.DataFrame]], budgets: list[int]) -> None:
    monitor = runs[0][0]["monitor"]
    greater = GREATER_IS_BETTER.get(monitor, False)
    col = f"val_{monitor}" if f"val_{monitor}" in runs[0][1] else "val_loss"
    curves = [r[1][col].tolist() for r in runs]
    full = min(len(c) for c in curves)
    print(f"\n{name}  ({len(runs)} replicates, monitor {col}, {full} epochs)")
    bests = sorted(r[0]["best_epoch"] for r in runs)
    late = sum(b > 0.9 * len(c) for b, c in zip(bests, curves, strict=False))
    print(f"  best epochs of the run: {bests}  (in last 10%: {late}/{len(runs)})")
    by_split: dict[int, list[int]] = defaultdict(list)
    for rec, _ in runs:
        by_split[rec.get("split", rec.get("dataset_seed", -1))].append(rec["best_epoch"])
    test_metric = runs[0][0]["metrics"].get(monitor)
    if test_metric is not None:
        tests = [r[0]["metrics"][monitor] for r in runs]
        print(f"  test {monitor} at the best epoch: mean {statistics.fmean(tests):.4f}"
              f" sd {statistics.stdev(tests) if len(tests) > 1 else 0:.4f}")
    print("  budget  median-best  in-last-10%  median |best(E) - best(run)|")
    for e in [b for b in budgets if b <= full] + ([full] if full not in budgets else []):
        stats = [best_within(c, e, greater) for c in curves]
        overall = [best_within(c, full, greater)[1] for c in curves]
        late_e = sum(ep > 0.9 * e for ep, _ in stats)
        gap = statistics.median(abs(v - o) for (_, v), o in zip(stats, overall, strict=True))
        med = statistics.median(ep for ep, _ in stats)
        print(f"  {e:6d}  {med:11.0f}  {late_e:5d}/{len(stats):<5d}  {gap:.4f}")


def split_of(record: dict) -> int:
    """The data split of a record: ``split`` where written, else its ``dataset.seed`` override."""
    if record.get("split") is not None:
        return int(record["split"])
    for ov in record.get("overrides", []):
        if ov.startswith("dataset.seed="):
            return int(ov.split("=", 1)[1])
    return 0


def compare(groups: dict[str, list[tuple[dict, pd.DataFrame]]], metric: str, base: str) -> None:
    """Each configuration's test ``metric`` over all (split, seed) and Δ vs the baseline, paired."""
    ref = {(split_of(r), r["seed"]): r["metrics"][metric] for r, _ in groups.get(base, [])}
    print(f"\ntest {metric}: mean ± sd over (split, seed); Δ paired by (split, seed) vs {base}")
    print("  config | n | mean ± sd | Δ | Δ per split")
    for name, runs in groups.items():
        vals = {(split_of(r), r["seed"]): r["metrics"].get(metric) for r, _ in runs}
        vals = {k: v for k, v in vals.items() if v is not None}
        if not vals:
            continue
        v = list(vals.values())
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        line = f"  {name} | {len(v)} | {statistics.fmean(v):.4f} ± {sd:.4f}"
        pairs = [(k, vals[k] - ref[k]) for k in vals if k in ref]
        if pairs and name != base:
            per_split: dict[int, list[float]] = defaultdict(list)
            for (split, _), d in pairs:
                per_split[split].append(d)
            splits = " ".join(f"{statistics.fmean(d):+.4f}" for _, d in sorted(per_split.items()))
            line += f" | {statistics.fmean(d for _, d in pairs):+.4f} | {splits}"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--loss", default=None, help="only configurations of this loss")
    ap.add_argument("--budgets", default="20,30,40,50,75,100,150,200,250,300,400,500")
    ap.add_argument("--metric", default=None, help="also compare this test metric across configs")
    ap.add_argument("--baseline", default="loss=ce", help="configuration name of the baseline")
    args = ap.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    groups = load(args.dirs)
    if args.metric:
        compare(groups, args.metric, args.baseline)
        return
    for name, runs in sorted(groups.items()):
        if args.loss and not name.startswith(f"loss={args.loss}"):
            continue
        summarise(name, runs, budgets)


if __name__ == "__main__":
    main()
