"""``+logger=mlflow``: a real sweep logged to a real local MLflow store, read back with
MLflow's own client (skipped where MLflow is not installed: ``pip install 'lossbench[mlflow]'``)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from lossbench.tracking.mlflow import flatten, seed_dirs
from tests.conftest import FAST, run_cli


def test_flatten_and_seed_dirs(tmp_path):
    assert flatten({"loss": {"gamma": 2, "alpha": [1, 3]}, "seed": 0}) == {
        "loss.gamma": "2",
        "loss.alpha": "[1, 3]",
        "seed": "0",
    }
    for s in (0, 1):
        (tmp_path / "job" / f"seed_{s}").mkdir(parents=True)
        (tmp_path / "job" / f"seed_{s}" / "metrics.json").write_text("{}")
    assert [p.name for p in seed_dirs(tmp_path / "job")] == ["seed_0", "seed_1"]


@pytest.mark.slow  # a sweep or a subprocess: seconds
def test_sweep_logs_one_run_per_seed_and_the_report(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'store.db'}"
    run_cli(
        [
            "run",
            "-m",
            "loss=ce,asymmetric",
            "seeds=2",
            *FAST,
            "+logger=mlflow",
            f"hydra.callbacks.report.tracking_uri={uri}",
            "hydra.callbacks.report.experiment=test",
            f"hydra.callbacks.report.artifact_location={(tmp_path / 'artifacts').as_uri()}",
            "hydra.sweep.dir=sweep",
        ],
        tmp_path,
    )
    assert (tmp_path / "sweep" / "report.html").is_file()
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("test")
    runs = client.search_runs([exp.experiment_id])
    (parent,) = [r for r in runs if r.info.run_name.startswith("sweep")]
    seeds = [r for r in runs if r is not parent]
    assert len(seeds) == 4  # 2 losses x 2 seeds, one run each
    got = sorted((r.data.params["choice.loss"], r.data.params["seed"]) for r in seeds)
    assert got == [("asymmetric", "0"), ("asymmetric", "1"), ("ce", "0"), ("ce", "1")]
    for r in seeds:
        assert r.info.status == "FINISHED"
        assert r.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert r.data.params["trainer.epochs"] == "3"
        # The run's metrics are the seed's files, value for value.
        job = Path(r.data.tags["job_dir"])
        record = json.loads((job / "metrics.json").read_text())
        assert record["seed"] == int(r.data.params["seed"])
        for name, value in record["metrics"].items():
            assert r.data.metrics[f"test_{name}"] == pytest.approx(value)
        with open(job / "history.csv") as fh:
            history = list(csv.DictReader(fh))
        logged = client.get_metric_history(r.info.run_id, "val_loss")
        assert [(m.step, m.value) for m in sorted(logged, key=lambda m: m.step)] == [
            (int(h["epoch"]), pytest.approx(float(h["val_loss"]))) for h in history
        ]
        names = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert {"metrics.json", "history.csv", "hydra"} <= names
    report = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.html", "report/summary.md", "report/plots"} <= report


def test_without_mlflow_one_line_and_exit_2(tmp_path, monkeypatch):
    """``+logger=mlflow`` where MLflow is not importable: the install command, exit 2,
    before any training."""
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    proc = run_cli(["run", "+logger=mlflow", *FAST], tmp_path, check=False)
    assert proc.returncode == 2
    assert "pip install 'lossbench[mlflow]'" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.rglob("metrics.json"))
