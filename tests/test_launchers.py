"""Any launcher, the same tables: joblib and submitit_local against the basic launcher;
the Optuna sweeper tuning a loss weight on the validation metric."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import FAST, run_cli

GRID = ["loss=ce,asymmetric", "seed=0,1,2", *FAST, "report.resume=false"]
# Columns that legitimately differ between launchers: where and how long a job ran.
VOLATILE = {"job", "wall_time_s", "resumed_from"}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _stable_results(sweep: Path) -> list[dict[str, str]]:
    rows = [{k: v for k, v in r.items() if k not in VOLATILE} for r in _rows(sweep / "results.csv")]
    return sorted(rows, key=lambda r: (r["loss"], r["seed"]))


@pytest.fixture(scope="module")
def basic(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("basic")
    run_cli(["run", "-m", *GRID, "hydra.sweep.dir=sweep"], root)
    return root / "sweep"


@pytest.mark.parametrize(
    "launcher",
    [
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"],
    ],
    ids=["joblib", "submitit_local"],
)
def test_launcher_aggregates_to_the_same_table(basic, tmp_path, launcher):
    run_cli(["run", "-m", *GRID, *launcher, "hydra.sweep.dir=sweep"], tmp_path)
    sweep = tmp_path / "sweep"
    assert len(list(sweep.rglob("metrics.json"))) == 6  # every job in the one sweep dir
    assert (sweep / "summary.csv").read_text() == (basic / "summary.csv").read_text()
    assert _stable_results(sweep) == _stable_results(basic)


def test_optuna_tunes_a_loss_weight_on_the_validation_metric(tmp_path):
    proc = run_cli(
        [
            "run",
            "-m",
            "hydra/sweeper=optuna",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.direction=maximize",
            "hydra.sweeper.sampler.seed=0",
            "loss=asymmetric",
            "+w=interval(1.0,16.0)",
            "loss.class_weights=[1.0,${w}]",
            *FAST,
            "hydra.sweep.dir=tune",
        ],
        tmp_path,
    )
    sweep = tmp_path / "tune"
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    records = [json.loads(f.read_text()) for f in sweep.rglob("metrics.json")]
    assert len(records) == 4 and all(r["status"] == "completed" for r in records)
    # The sweeper maximised what each job returned: its best validation balanced accuracy.
    assert best["best_value"] == pytest.approx(max(r["best_value"] for r in records))
    top = max(records, key=lambda r: r["best_value"])
    assert f"+w={best['best_params']['+w']}" in top["overrides"]
    assert top["best_value"] == pytest.approx(top["val_metrics"]["balanced_accuracy"])
    assert len(_rows(sweep / "results.csv")) == 4 and "report:" in proc.stdout
