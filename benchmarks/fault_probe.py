"""Fault probe (issue 11): feed ``lossbench`` bad inputs and count how each is answered.

Each case runs the installed CLI (``python -m lossbench``) in a scratch directory and
is classified as

* ``clean``: non-zero exit, no traceback, one line on stderr naming what to fix
  (exit 2 expected for config/data mistakes, 1 for environment problems, 130 Ctrl-C);
* ``traceback``: a Python traceback reached the user;
* ``multiline``: a non-zero exit with several lines of stderr (Hydra's blocks);
* ``accepted``: exit 0, i.e. the bad value was silently accepted;
* ``wrong-exit``: one clean line but an exit code other than the expected one.

Single runs that are (wrongly) accepted train for 1 epoch on 300 rows, so the probe
takes a few minutes on 2 cores. Usage::

    OMP_NUM_THREADS=1 python benchmarks/fault_probe.py [--jobs 2] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FAST = ["trainer.epochs=1", "trainer.progress=false"]
SMALL = ["dataset.n_samples=300"]

# (name, args, expected exit code)
CASES: list[tuple[str, list[str], int]] = []


def case(name: str, *args: str, code: int = 2, small: bool = True) -> None:
    extra = [*FAST, *(SMALL if small else [])]  # first: the case's own value wins
    flags = list(args[:2]) if args and args[0].startswith("--") else []  # --config-dir DIR
    CASES.append((name, ["run", *flags, *extra, *args[len(flags) :]], code))


# root keys: wrong type, out of range, NaN/inf, truthy strings, unknown keys
for key, values in {
    "seed": ["abc", "nan", "null", "-1", "1.5", "true"],
    "seeds": ["0", "abc", "[1,1]", "[]", "-2", "[a]"],
    "trainer.epochs": ["0", "abc", "2.5", "true", "null", "-3"],
    "trainer.batch_size": ["0", "abc", "half", "1.5", "null"],
    "trainer.patience": ["true", "0", "abc", "1.5"],
    "trainer.evaluate": ["worst", "1"],
    "trainer.progress": ["maybe", "2"],
    "trainer.fail_on_nan": ["'maybe'", "2", "nan"],
    "trainer.num_threads": ["0", "abc", "-1"],
    "trainer.monitor": ["''", "[1]"],
    "eval.posthoc_tau": ["abc", "-3", "nan", "inf"],
    "report.alpha": ["abc", "-1", "0", "1", "nan", "2"],
    "report.plots": ["maybe", "2"],
    "report.resume": ["maybe", "2"],
    "report.metric": ["''", "[1]"],
}.items():
    for value in values:
        case(f"{key}={value}", f"{key}={value}")
for key in (
    "+trainer.epoch=5",
    "+trainer.device=cuda",
    "+eval.tau=1",
    "+report.alfa=0.1",
    "+seeed=3",
):
    case(key, key)

# group parameters
for ov in [
    "loss=focal loss.gamma=nan",
    "loss=focal loss.gamma=abc",
    "loss=focal loss.gama=2",
    "loss=asymmetric loss.class_weights=[nan,1]",
    "loss=asymmetric loss.class_weights=abc",
    "optimizer.lr=inf",
    "optimizer.lr=abc",
    "optimizer.lr=0",
    "optimizer.lr=-1",
    "optimizer.weight_decay=-1",
    "optimizer.betas=[0.9]",
    "+optimizer.lrr=0.1",
    "dataset.val_size=0",
    "dataset.test_size=1",
    "dataset.n_samples=abc",
    "dataset.imbalance_ratio=nan",
    "dataset.seed=-1",
    "+dataset.foo=1",
    "model.hidden_sizes=abc",
    "model.dropout=nan",
    "+model.width=3",
    "loss.reduction=none",
    "loss.reduction=max",
    "loss.label_smoothing=abc",
    "loss._target_=os.rename",
    "loss=custom loss._target_=os.rename",
    "loss=custom loss._target_=builtins.print",
    "loss=custom loss._target_=nosuch.mod.f",
    "loss._target_=lossbench.losses.MSELoss",
]:
    case(ov, *ov.split())

# Hydra's own errors
case("unknown option", "loss=nosuch")
case("unknown group", "+nosuchgroup=x")
case("bad override syntax", "loss.gamma=[1,")
case("dataset=csv without path", "dataset=csv", small=False)
case(
    "dataset=csv missing file",
    "dataset=csv",
    "dataset.path=nope.csv",
    "dataset.target=y",
    small=False,
)

PROBE_FILES = {
    "conf/loss/broken.yaml": "_target_: [unclosed\n",
    "bad.csv": "a,b,y\n1,2,0\n3,1e300,1\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(60)),
    "inf.csv": "a,b,y\n1,2,0\n3,inf,1\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(60)),
}
case("malformed YAML in --config-dir", "--config-dir", "conf", "loss=broken")
case("CSV cell 1e300", "dataset=csv", "dataset.path=bad.csv", "dataset.target=y", small=False)
case("CSV cell inf", "dataset=csv", "dataset.path=inf.csv", "dataset.target=y", small=False)
CASES.append(("report on a missing dir", ["report", "nosuch_dir"], 2))
CASES.append(("report --alpha -1", ["report", ".", "--alpha", "-1"], 2))


def classify(proc: subprocess.CompletedProcess, expected: int) -> str:
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    if "Traceback (most recent call last)" in proc.stderr:
        return "traceback"
    if proc.returncode == 0:
        return "accepted"
    if len(err) != 1:
        return "multiline"
    return "clean" if proc.returncode == expected else "wrong-exit"


def run_case(name: str, args: list[str], expected: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in PROBE_FILES.items():
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "HYDRA_FULL_ERROR": "0"}
        env.pop("HYDRA_FULL_ERROR")
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "lossbench", *args],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            return {"name": name, "result": "timeout", "exit": None, "stderr": ""}
    kind = classify(proc, expected)
    tail = proc.stderr.strip().splitlines()
    last = tail[-1] if tail else ""
    print(f"{kind:>10}  exit {proc.returncode}  {name}: {last[:150]}", flush=True)
    return {"name": name, "result": kind, "exit": proc.returncode, "stderr": last}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default="")
    parser.add_argument("--json", type=Path, help="write every case's result here")
    args = parser.parse_args()
    cases = [c for c in CASES if args.only in c[0]]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda c: run_case(*c), cases))
    counts: dict[str, int] = {}
    for r in results:
        counts[r["result"]] = counts.get(r["result"], 0) + 1
    print(f"{len(results)} cases: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if counts.get("clean", 0) == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
