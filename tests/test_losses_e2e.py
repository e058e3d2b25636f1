"""Every loss YAML trains end to end (1 epoch) on a dataset of each family it declares."""

from __future__ import annotations

import csv

import pytest
import torch
import yaml

from lossbench.registry import config_dir
from tests.conftest import REPO, read_metrics, run_cli

# the dataset each family is checked on, and settings that keep it small
FAMILY_DATASET = {
    "classification": ("imbalanced", ["dataset.n_samples=600"]),
    "regression": ("imbalanced_regression", []),
    "forecast": ("sine", []),
}
NEEDS_TARGET = {"custom"}  # run below with the worked example as its _target_


def _losses_by_family() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {family: [] for family in FAMILY_DATASET}
    for path in sorted((config_dir() / "loss").glob("*.yaml")):
        if path.stem in NEEDS_TARGET:
            continue
        tasks = yaml.safe_load(path.read_text()).get("_tasks_") or list(FAMILY_DATASET)
        for task in tasks:
            out[task].append(path.stem)
    return out


@pytest.mark.slow
def test_every_loss_trains_one_epoch(tmp_path):
    missing = []
    for family, names in _losses_by_family().items():
        dataset, extra = FAMILY_DATASET[family]
        if not (config_dir() / "dataset" / f"{dataset}.yaml").exists():
            missing.append(f"{family} (dataset={dataset})")
            continue
        sweep = tmp_path / family
        run_cli(
            [
                "run",
                "-m",
                f"loss={','.join(names)}",
                f"dataset={dataset}",
                *extra,
                "trainer.epochs=1",
                "trainer.progress=false",
                f"hydra.sweep.dir={sweep}",
            ],
            tmp_path,
        )
        records = {}
        for job in sorted(p.parent for p in sweep.rglob("metrics.json")):
            record = read_metrics(job)
            records[record["choices"]["loss"]] = (record, job)
        assert sorted(records) == sorted(names)
        for name, (record, _job) in records.items():
            assert record["status"] == "completed", (family, name, record["error"])
            assert record["task"] == family and record["epochs_run"] == 1
            assert record["metrics"], (family, name)
        if family == "classification":
            _, job = records["combined"]
            with open(job / "history.csv") as fh:
                row = next(csv.DictReader(fh))
            assert {"val_ce", "val_mse"} <= set(row)  # each term, logged per epoch
    if missing:
        pytest.skip("no dataset config yet for: " + ", ".join(missing))


@pytest.mark.slow
def test_own_loss_from_the_command_line_and_config_dir(tmp_path):
    """The README's worked example: a plain function, selected without editing lossbench."""
    common = ["trainer.epochs=1", "trainer.progress=false", "dataset.n_samples=600"]
    run_cli(
        [
            "run",
            "loss=custom",
            "loss._target_=examples.my_loss.poly1_cross_entropy",
            "+loss.epsilon=2.0",
            *common,
            f"hydra.run.dir={tmp_path / 'a'}",
        ],
        REPO,
    )
    run_cli(
        [
            "run",
            "--config-dir",
            "examples/configs",
            "loss=poly1",
            *common,
            f"hydra.run.dir={tmp_path / 'b'}",
        ],
        REPO,
    )
    a, b = read_metrics(tmp_path / "a"), read_metrics(tmp_path / "b")
    assert a["status"] == b["status"] == "completed"
    assert a["choices"]["loss"] == "custom" and b["choices"]["loss"] == "poly1"


def test_posthoc_tau_predicts_argmax_of_logits_minus_tau_log_prior():
    from lossbench.data import Dataset, Split
    from lossbench.evaluation.posthoc import logit_adjuster
    from lossbench.experiment import Experiment, evaluate_members, predict_chosen
    from lossbench.training.loop import MemberResult

    y = torch.tensor([0] * 9 + [1])  # prior [0.9, 0.1]
    split = Split(torch.zeros(10, 1), y)
    data = Dataset("toy", "classification", split, split, split, n_classes=2)
    logits = torch.tensor([[1.0, 0.0]] * 9 + [[0.5, 0.0]])  # always predicts class 0

    class Fixed:
        """A trainer whose one member always outputs ``logits``."""

        def __init__(self, adjust):
            self.datasets, self.adjust = [data], adjust

        def predict_split(self, name):
            return logits.unsqueeze(0)

    def test_metrics(tau: float) -> dict[str, float]:
        exp = Experiment(data, Fixed(logit_adjuster(data.stats()["class_prior"], tau)))
        results = [MemberResult(seed=0)]
        return evaluate_members(exp, results, predict_chosen(exp, results))[0]["test"]

    plain = test_metrics(0.0)
    assert plain["recall_class_1"] == 0.0 and plain["recall_class_0"] == 1.0
    # z - log prior: [1 - log .9, log 10] -> class 1 for every row at tau = 1
    adjusted = test_metrics(1.0)
    assert adjusted["recall_class_1"] == 1.0 and adjusted["recall_class_0"] == 0.0
    # tau = 0.3: row [1, 0] -> [1.03, 0.69] stays class 0; row [0.5, 0] -> [0.53, 0.69] flips
    mild = test_metrics(0.3)
    assert mild["recall_class_0"] == 1.0 and mild["recall_class_1"] == 1.0
