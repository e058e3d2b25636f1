"""Sweeps: resume by config hash, one directory per sweep, and the experiment presets."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from lossbench.registry import config_dir
from lossbench.resume import config_hash
from tests.conftest import FAST, run_cli

PRESETS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))
GROUPS = ("dataset", "model", "loss", "optimizer", "sampler")


def _records(sweep: Path) -> list[dict]:
    return [json.loads(f.read_text()) for f in sorted(sweep.rglob("metrics.json"))]


def _sweep_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "outputs" / "multirun").glob("*/*/multirun.yaml"))


@pytest.mark.slow
def test_resume_skips_completed_jobs_of_the_same_command(tmp_path):
    """Default (timestamped) sweep dirs: a re-run finds earlier jobs under outputs/multirun."""
    run_cli(["run", "-m", "loss=ce,asymmetric", "seed=0,1", *FAST], tmp_path)
    (first,) = _sweep_dirs(tmp_path)
    # Simulate an interruption: one job never finished.
    lost = next(f for f in first.rglob("metrics.json") if '"asymmetric"' in f.read_text())
    lost_seed = json.loads(lost.read_text())["seed"]
    lost.unlink()
    proc = run_cli(["run", "-m", "loss=ce,asymmetric", "seed=0,1,2", *FAST], tmp_path)
    second = _sweep_dirs(tmp_path)[-1]
    assert second != first
    records = _records(second)
    assert len(records) == 6
    resumed = {(r["choices"]["loss"], r["seed"]) for r in records if r.get("resumed_from")}
    assert resumed == {("ce", 0), ("ce", 1), ("asymmetric", 1 - lost_seed)}
    assert proc.stdout.count("resumed: already completed") == 3
    originals = {(r["choices"]["loss"], r["seed"]): r for r in _records(first)}
    for r in records:
        key = (r["choices"]["loss"], r["seed"])
        if key in resumed:
            assert r["metrics"] == originals[key]["metrics"]
            assert r["config_hash"] == originals[key]["config_hash"]
            assert (Path(r["resumed_from"]) / "metrics.json").exists()
    with open(second / "summary.csv") as fh:
        rows = [row for row in csv.DictReader(fh) if row["headline"] == "True"]
        assert [row["n"] for row in rows] == ["3", "3"]
    # report.resume=false trains everything again.
    run_cli(["run", "-m", "loss=ce", "seed=0", *FAST, "report.resume=false"], tmp_path)
    (again,) = _records(_sweep_dirs(tmp_path)[-1])
    assert "resumed_from" not in again and again["metrics"] == originals[("ce", 0)]["metrics"]


@pytest.mark.slow
def test_resume_in_a_fixed_sweep_dir(cli, tmp_path):
    cli("run", "-m", "loss=ce", "seed=0,1", *FAST, "hydra.sweep.dir=fixed")
    proc = cli("run", "-m", "loss=ce", "seed=0,1", *FAST, "hydra.sweep.dir=fixed")
    assert proc.stdout.count("resumed: already completed") == 2
    assert len(_records(tmp_path / "fixed")) == 2


def test_config_hash_ignores_display_and_report_keys():
    with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
        base = config_hash(compose("config"))
        assert base == config_hash(compose("config", ["trainer.progress=false"]))
        assert base == config_hash(compose("config", ["report.resume=false", "report.metric=mae"]))
        assert base != config_hash(compose("config", ["seed=1"]))
        assert base != config_hash(compose("config", ["loss=asymmetric"]))
        assert base != config_hash(compose("config", ["trainer.epochs=31"]))


@pytest.mark.slow
def test_two_sweeps_started_together_never_share_a_directory(tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    args = [sys.executable, "-m", "lossbench", "run", "-m", "seed=0,1", *FAST]
    args += ["report.resume=false", "report.plots=false"]
    procs = [
        subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL) for _ in range(2)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    dirs = _sweep_dirs(tmp_path)
    assert len(dirs) == 2
    assert [len(_records(d)) for d in dirs] == [2, 2]
    raw = yaml.safe_load((config_dir() / "config.yaml").read_text())
    assert raw["hydra"]["sweep"]["dir"].endswith("%H-%M-%S-%f}")  # microseconds


# -- presets -----------------------------------------------------------------


def _preset(name: str) -> tuple[str, dict]:
    text = (config_dir() / "experiment" / f"{name}.yaml").read_text()
    return text, yaml.safe_load(text)


def _options_named(data: dict) -> dict[str, list[str]]:
    """Config-group options a preset names: its defaults and its swept groups."""
    named: dict[str, list[str]] = {}
    for entry in data.get("defaults", []):
        for key, value in entry.items():
            group = key.removeprefix("override ").strip("/")
            named.setdefault(group, []).append(value)
    parser = OverridesParser.create()
    for key, value in data["hydra"]["sweeper"]["params"].items():
        if key in GROUPS:
            (ov,) = parser.parse_overrides([f"{key}={value}"])
            named.setdefault(key, []).extend(ov.sweep_string_iterator())
    return named


def test_the_presets():
    assert PRESETS == [
        "auc_losses",
        "imbalanced_losses",
        "imbalanced_rebalancing",
        "longtail_losses",
        "longtail_ratios",
        "longtail_rebalancing",
        "regression_losses",
        "timeseries_losses",
        "weight_sweep",
    ]


@pytest.mark.parametrize("name", PRESETS)
def test_preset_header_and_sweep(name):
    text, data = _preset(name)
    assert text.startswith("# @package _global_\n")
    for word in ("What:", "Why:", "Run:", f"+experiment={name}", "Budget", "Time:"):
        assert word in text, word
    params = data["hydra"]["sweeper"]["params"]
    assert data["seeds"] == 5 and "seed" not in params  # 5 seeds, batched in each job
    assert data["splits"] == 3 and "dataset.seed" not in params  # 3 data splits
    # one axis (the losses or the weight); longtail_ratios adds the imbalance ratio,
    # auc_losses the dataset; the rebalancing presets cross the losses with sampling, cRT
    # and post-hoc adjustment
    axes = {
        "longtail_ratios": 2,
        "auc_losses": 2,
        "longtail_rebalancing": 4,
        "imbalanced_rebalancing": 4,
    }
    assert len(params) == axes.get(name, 1)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_composes_with_every_option_it_names(name):
    _, data = _preset(name)
    named = _options_named(data)
    missing = [
        f"{g}={o}"
        for g, opts in named.items()
        for o in opts
        if not (config_dir() / g / f"{o}.yaml").exists()
    ]
    assert not missing, f"the preset names options that do not exist: {', '.join(missing)}"
    parser = OverridesParser.create()
    with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
        cfg = compose("config", [f"+experiment={name}"], return_hydra_config=True)
        params = cfg.hydra.sweeper.params
        for key, value in params.items():
            (ov,) = parser.parse_overrides([f"{key}={value}"])
            for choice in ov.sweep_string_iterator():
                job = compose("config", [f"+experiment={name}", f"{key}={choice}"])
                assert job.seed is not None
                if key in GROUPS:
                    assert job[key]._target_
        baseline = cfg.report.baseline
        if "=" in baseline:
            key, _, value = baseline.partition("=")
            values = list(
                parser.parse_overrides([f"{key}={params[key]}"])[0].sweep_string_iterator()
            )
            assert value in values, "the baseline must be one of the swept values"
