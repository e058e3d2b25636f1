"""``splits``: a configuration trained on several data splits x seeds in one job.

Each (split d, seed s) member's record and history must equal, bit for bit, those
of the single run ``dataset.seed=d seed=s`` (same ``overrides`` and
``config_hash`` too); runs in-process through Hydra's compose API.
"""

from __future__ import annotations

import shutil

import pytest
from omegaconf import OmegaConf

from lossbench.errors import ConfigError
from lossbench.plan import JobContext, job_splits, make_plan
from lossbench.runner import training_groups
from tests.conftest import FAST, read_metrics
from tests.inprocess import composed, run_inprocess

# wall times and the batch lists describe how a job ran, not what it computed
BOOKKEEPING = ("seeds", "splits", "wall_time_s", "job_wall_time_s", "versions")
VARIED = [
    "trainer.epochs=4",
    "model.dropout=0.1",
    "trainer.patience=1",
    "trainer.monitor=loss",
    "optimizer.lr=0.1",
    "trainer.progress=false",
    "dataset.n_samples=600",
]


@pytest.fixture(autouse=True)
def _cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # resume looks under outputs/multirun of the cwd


def _computed(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in BOOKKEEPING}


@pytest.mark.parametrize(
    "extra",
    [
        [],
        # full batch: members read their own split's stacked rows instead of one shared
        # tensor; post-hoc adjustment with each split's own class prior
        ["trainer.batch_size=full", "eval.posthoc_tau=1.0", "trainer.monitor=balanced_accuracy"],
    ],
    ids=["minibatch", "fullbatch-posthoc"],
)
def test_split_members_equal_single_runs(tmp_path, extra):
    args = [*VARIED, *extra]
    cfg, _ = composed(["splits=[3,5]", "seeds=2", *args])
    ctx = JobContext(tmp_path, False, [], {}, tmp_path)
    plan = make_plan(cfg, ctx)
    ((members, datasets),) = training_groups(cfg, plan, plan.members)  # one stacked model
    assert len(members) == 4 and datasets[0] is datasets[1] and datasets[0] is not datasets[2]
    run_inprocess(["splits=[3,5]", "seeds=2", "dataset.seed=9", *args], tmp_path / "job")
    members = sorted(p.parent for p in (tmp_path / "job").rglob("metrics.json"))
    assert [p.relative_to(tmp_path / "job").as_posix() for p in members] == [
        "split_3/seed_0",
        "split_3/seed_1",
        "split_5/seed_0",
        "split_5/seed_1",
    ]
    metrics = set()
    for split in (3, 5):
        for seed in (0, 1):
            single = tmp_path / f"single_{split}_{seed}"
            run_inprocess([*args, f"dataset.seed={split}", f"seed={seed}"], single)
            member = tmp_path / "job" / f"split_{split}" / f"seed_{seed}"
            batched, alone = read_metrics(member), read_metrics(single)
            assert batched["status"] == "completed"
            assert _computed(batched) == _computed(alone), (split, seed)
            assert batched["overrides"][-2:] == [f"dataset.seed={split}", f"seed={seed}"]
            assert batched["split"] == split and alone["split"] == split
            assert batched["splits"] == [3, 5] and batched["seeds"] == [0, 1]
            assert (member / "history.csv").read_text() == (single / "history.csv").read_text()
            metrics.add(batched["best_value"])
    assert len(metrics) == 4, "every split and seed should train differently"


def test_splits_alone_and_counts(tmp_path):
    """``splits=2`` with ``dataset.seed=4`` trains splits 4 and 5 with the one ``seed``."""
    run_inprocess(["splits=2", "dataset.seed=4", "seed=7", *FAST], tmp_path / "job")
    for split in (4, 5):
        record = read_metrics(tmp_path / "job" / f"split_{split}" / "seed_7")
        assert (record["split"], record["seed"], record["splits"]) == (split, 7, [4, 5])
        assert "seeds" not in record and record["warnings"] is not None


def test_single_run_records_its_split(tmp_path):
    run_inprocess([*FAST, "dataset.seed=2"], tmp_path / "job")
    record = read_metrics(tmp_path / "job")
    assert record["split"] == 2 and "splits" not in record and isinstance(record["warnings"], list)


@pytest.mark.parametrize(("splits", "expected"), [(None, None), (3, [1, 2, 3]), ([7, 2], [7, 2])])
def test_job_splits(splits, expected):
    cfg = OmegaConf.create({"splits": splits, "dataset": {"seed": 1}})
    assert job_splits(cfg) == expected


@pytest.mark.parametrize("bad", [0, -1, [], [2, 2], [1, "a"], "two", True, 1.5])
def test_job_splits_rejects(bad):
    cfg = OmegaConf.create({"splits": bad, "dataset": {"seed": 0}})
    with pytest.raises(ConfigError, match="splits must be null, a count >= 1"):
        job_splits(cfg)


def test_splits_need_a_dataset_seed():
    cfg = OmegaConf.create({"splits": 2, "dataset": {"path": "x"}})
    with pytest.raises(ConfigError, match="dataset=nile has a fixed split; remove splits"):
        job_splits(cfg, "nile")


def test_bad_splits_one_line_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run_inprocess([*FAST, "splits=[1,1]"], tmp_path / "job")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "error: splits must be null, a count >= 1 or a list of distinct integer data seeds "
        "in [0, 2^32), got [1, 1]"
    ]
    assert read_metrics(tmp_path / "job")["status"] == "failed"


def test_resume_per_split_and_seed(tmp_path, capsys):
    """A re-run of a sweep job retrains only the (split, seed) members that are missing."""
    args = ["splits=2", "seeds=2", *FAST]
    sweep = tmp_path / "outputs" / "multirun" / "first"
    run_inprocess(args, sweep / "0", multirun=True, sweep_dir=sweep)
    capsys.readouterr()
    lost = sweep / "0" / "split_1" / "seed_0"
    before = read_metrics(lost)
    shutil.rmtree(lost)
    again = tmp_path / "outputs" / "multirun" / "second"
    run_inprocess(args, again / "0", multirun=True, sweep_dir=again)
    records = {
        (r["split"], r["seed"]): r
        for r in (read_metrics(p.parent) for p in (again / "0").rglob("metrics.json"))
    }
    assert sorted(records) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert {k for k, r in records.items() if "resumed_from" not in r} == {(1, 0)}
    assert _computed(records[(1, 0)]) == _computed(before)
    out = capsys.readouterr().out
    assert out.count("split=1 · seed=0 · completed") == 1


def test_wall_times_and_stdout(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    run_inprocess(["splits=2", "seeds=2", *FAST], tmp_path / "job")
    out = capsys.readouterr().out
    assert "split 1 seed 1" in out and "split_<split>/seed_<seed>/" in out
    record = read_metrics(tmp_path / "job" / "split_0" / "seed_0")
    assert record["job_wall_time_s"] >= record["wall_time_s"] > 0


def test_a_failing_split_keeps_the_splits_trained_before(tmp_path, monkeypatch, capsys):
    from lossbench import runner

    real = runner._train_part

    def flaky(cfg, members, datasets):
        if members[0].split == 1:
            raise RuntimeError("boom")
        return real(cfg, members, datasets)

    monkeypatch.setattr(runner, "_train_part", flaky)
    monkeypatch.setattr(runner, "alike", lambda datasets: False)  # one training per split
    assert run_inprocess(["splits=3", *FAST], tmp_path / "job", multirun=True) is None
    done = read_metrics(tmp_path / "job" / "split_0" / "seed_0")
    assert done["status"] == "completed" and done["error"] is None
    for split in (1, 2):
        failed = read_metrics(tmp_path / "job" / f"split_{split}" / "seed_0")
        assert failed["status"] == "failed" and failed["error"] == "RuntimeError: boom"
        assert "Traceback" in failed["traceback"]
    assert capsys.readouterr().err.strip() == "error: RuntimeError: boom"
