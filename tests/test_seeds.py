"""``seeds``: several seeds of one configuration in one batched job, end to end.

Each seed's ``metrics.json`` and ``history.csv`` must equal, bit for bit, what a
separate single-seed run of that seed writes (apart from the bookkeeping keys).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lossbench.losses import CrossEntropyLoss
from tests.conftest import FAST, REPO, read_metrics

# Keys that describe how a job ran rather than what it computed.
BOOKKEEPING = ("overrides", "seeds", "wall_time_s", "job_wall_time_s", "versions", "config_hash")
# dropout and early stopping make members diverge in time and randomness
VARIED = [
    "trainer.epochs=4",
    "model.dropout=0.1",
    "trainer.patience=1",
    "trainer.monitor=loss",
    "optimizer.lr=0.1",
    *(a for a in FAST if not a.startswith("trainer.epochs=")),
]


def _computed(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in BOOKKEEPING}


def _sep_dirs(root: Path) -> dict[int, Path]:
    return {read_metrics(p.parent)["seed"]: p.parent for p in root.rglob("metrics.json")}


@pytest.mark.slow
def test_batched_seeds_equal_separate_runs(cli, tmp_path):
    proc = cli("run", "seeds=5", *VARIED, "hydra.run.dir=batch")
    # five separate single-seed jobs (one process: a multirun over seed)
    cli("run", "-m", "seed=0,1,2,3,4", *VARIED, "hydra.sweep.dir=sep")
    separate = _sep_dirs(tmp_path / "sep")
    assert sorted(separate) == [0, 1, 2, 3, 4]
    assert not (tmp_path / "batch" / "metrics.json").exists()  # one record per seed only
    for seed, sep_dir in separate.items():
        member = tmp_path / "batch" / f"seed_{seed}"
        batched, single = read_metrics(member), read_metrics(sep_dir)
        assert batched["status"] == "completed"
        assert _computed(batched) == _computed(single), seed
        # resume matches a batched seed and its single run as the same job
        assert batched["config_hash"] == single["config_hash"]
        assert (member / "history.csv").read_text() == (sep_dir / "history.csv").read_text()
        assert batched["seed"] == seed and batched["seeds"] == [0, 1, 2, 3, 4]
        assert batched["overrides"][-1] == f"seed={seed}"
        assert not any(o.startswith("seeds=") for o in batched["overrides"])
        assert set(single) <= set(batched)  # a complete record, like a single run's
    epochs = {read_metrics(tmp_path / "batch" / f"seed_{s}")["epochs_run"] for s in range(5)}
    assert len(epochs) > 1, f"members should stop early at different epochs, got {epochs}"
    assert "mean ± std" in proc.stdout and "seed 4" in proc.stdout


@pytest.mark.slow
def test_seed_lists_and_counts_in_a_sweep(cli, tmp_path):
    """``seeds=[3,7]`` trains exactly those; ``seeds=2`` with ``seed=5`` trains 5 and 6."""
    cli("run", "-m", "seeds=[3,7],2", "seed=5", *FAST, "hydra.sweep.dir=sweep")
    written = sorted(
        p.relative_to(tmp_path / "sweep").as_posix()
        for p in (tmp_path / "sweep").rglob("metrics.json")
    )
    assert written == [
        "0/seed_3/metrics.json",
        "0/seed_7/metrics.json",
        "1/seed_5/metrics.json",
        "1/seed_6/metrics.json",
    ]


def test_bad_seeds_one_line_exit_2(cli):
    proc = cli("run", *FAST, "seeds=0", check=False)
    assert proc.returncode == 2
    assert "seeds must be null, a count >= 1" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


class UnbatchableCE(CrossEntropyLoss):
    """CE that opts out of batched seeds (for the fallback test)."""

    batchable = False


@pytest.mark.slow
def test_unbatchable_loss_falls_back_to_a_per_seed_loop(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # makes tests.test_seeds importable
    targets = "lossbench.losses.CrossEntropyLoss,tests.test_seeds.UnbatchableCE"
    proc = cli("run", "-m", f"loss._target_={targets}", "seeds=2", *FAST, "hydra.sweep.dir=sw")
    assert "sets batchable = False; training its 2 seeds one after another" in proc.stderr
    for seed in (0, 1):
        batched, looped = (tmp_path / "sw" / job / f"seed_{seed}" for job in ("0", "1"))
        assert _computed(read_metrics(batched)) == _computed(read_metrics(looped))
        assert (batched / "history.csv").read_text() == (looped / "history.csv").read_text()


@pytest.mark.slow
def test_batched_forecast_seeds_save_their_predictions(cli, tmp_path):
    cli(
        "run",
        "seeds=2",
        "dataset=nile",
        "loss=mse",
        "trainer.epochs=2",
        "trainer.progress=false",
        "hydra.run.dir=job",
    )
    for seed in (0, 1):
        assert read_metrics(tmp_path / "job" / f"seed_{seed}")["status"] == "completed"
        assert (tmp_path / "job" / f"seed_{seed}" / "predictions.npz").exists()
