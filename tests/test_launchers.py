"""Any launcher, the same tables: joblib, submitit_local and Ray (when installed) against
the basic launcher; the Optuna sweeper tuning a loss weight on the validation metric."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import FAST, run_cli

# Launchers start worker processes of their own: the whole module is the slow tier.
pytestmark = pytest.mark.slow

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
    run_cli(["run", "-m", *GRID, *launcher, "hydra.sweep.dir=sweep"], tmp_path, real=True)
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


@pytest.fixture
def ray_cluster(tmp_path):
    """A local Ray head node in its own temp dir, no dashboard; stopped afterwards."""
    pytest.importorskip(
        "hydra_plugins.hydra_ray_launcher",
        reason="Ray launcher not installed: `pip install 'lossbench[ray]'` (not in the dev extra: "
        "hydra-ray-launcher pins cloudpickle 2.2.1, joblib 1.6 needs >= 3)",
    )
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths
    start = [ray, "start", "--head", "--num-cpus=2", "--include-dashboard=false"]
    subprocess.run(
        [*start, f"--temp-dir={temp}"], env=env, check=True, capture_output=True, cwd=tmp_path
    )
    try:
        yield env
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True)
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_launcher_aggregates_to_the_same_table(basic, tmp_path, ray_cluster):
    args = [sys.executable, "-m", "lossbench", "run", "-m", *GRID, "hydra/launcher=ray"]
    args += ["hydra.launcher.ray.init.address=auto", "+hydra.launcher.ray.remote.num_cpus=1"]
    # hydra-ray-launcher sets a default object_store_memory, which ray.init refuses when
    # joining a running cluster; an explicit null keeps it out.
    args += ["+hydra.launcher.ray.init.object_store_memory=null"]
    # Ray workers run in the cluster's working directory: give the sweep an absolute path.
    proc = subprocess.run(
        [*args, f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path,
        env={**ray_cluster, "HYDRA_FULL_ERROR": "0"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "sweep"
    assert (sweep / "summary.csv").read_text() == (basic / "summary.csv").read_text()
    assert _stable_results(sweep) == _stable_results(basic)
