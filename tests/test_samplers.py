"""Samplers (``sampler=...``): per-class counts over an epoch, per-seed streams, batched
members equal single runs, and the config plumbing (classification only, one-line errors)."""

from __future__ import annotations

import builtins
import importlib.util

import numpy as np
import pytest
import torch

from lossbench.errors import ConfigError
from lossbench.seeding import generator
from lossbench.training.samplers import (
    NoSampler,
    OverSampler,
    PowerSampler,
    ProgressiveSampler,
    SmoteSampler,
    UnderSampler,
)
from tests.conftest import read_metrics
from tests.inprocess import run_inprocess

COUNTS = [400, 100, 25, 5]
LABELS = torch.cat([torch.full((n,), c) for c, n in enumerate(COUNTS)])
LABELS = LABELS[torch.randperm(len(LABELS), generator=torch.Generator().manual_seed(1))]
HAS_IMBLEARN = importlib.util.find_spec("imblearn") is not None


def _shares(sampler, epochs: int = 40, epoch: int | None = None) -> np.ndarray:
    """Each class's share of the rows drawn over ``epochs`` epochs (or one fixed epoch)."""
    gen = generator(0, "order")
    counts = np.zeros(len(COUNTS))
    for e in range(1, epochs + 1):
        order = sampler.epoch_order(LABELS, 32, epoch or e, epochs, gen)
        assert order.dtype == torch.int64 and len(order) == sampler.epoch_length(LABELS)
        counts += np.bincount(LABELS[order].numpy(), minlength=len(COUNTS))
    return counts / counts.sum()


def _tolerance(p: np.ndarray, draws: int) -> np.ndarray:
    """Five binomial standard errors of a share estimated from ``draws`` rows."""
    return 5 * np.sqrt(p * (1 - p) / draws) + 1e-12


@pytest.mark.parametrize(
    ("power", "expected"),
    [
        (0.0, np.full(4, 0.25)),
        (0.5, np.sqrt(COUNTS) / np.sqrt(COUNTS).sum()),
        (1.0, np.array(COUNTS) / sum(COUNTS)),
    ],
    ids=["class_balanced", "sqrt", "instance_balanced"],
)
def test_power_sampler_class_shares(power, expected):
    shares = _shares(PowerSampler(power))
    assert np.all(np.abs(shares - expected) <= _tolerance(expected, 40 * len(LABELS)))


def test_progressive_moves_from_instance_to_class_balanced():
    ib = np.array(COUNTS) / sum(COUNTS)
    cb = np.full(4, 0.25)
    epochs = 10
    for epoch, t in [(1, 0.0), (6, 0.5), (10, 0.9)]:  # t = (epoch - 1) / epochs
        expected = (1 - t) * ib + t * cb
        sampler = ProgressiveSampler()
        gen = generator(3, "order")
        counts = np.zeros(4)
        for _ in range(30):
            order = sampler.epoch_order(LABELS, 32, epoch, epochs, gen)
            counts += np.bincount(LABELS[order].numpy(), minlength=4)
        shares = counts / counts.sum()
        assert np.all(np.abs(shares - expected) <= _tolerance(expected, 30 * len(LABELS))), epoch


def test_oversample_fixed_set_tops_every_class_up():
    sampler = OverSampler()
    gen = generator(0, "order")
    first = sampler.epoch_order(LABELS, 32, 1, 5, gen)
    assert len(first) == max(COUNTS) * len(COUNTS) == sampler.epoch_length(LABELS)
    assert np.bincount(LABELS[first].numpy()).tolist() == [max(COUNTS)] * len(COUNTS)
    assert set(first.tolist()) == set(range(len(LABELS)))  # every original row kept
    second = sampler.epoch_order(LABELS, 32, 2, 5, gen)
    assert sorted(first.tolist()) == sorted(second.tolist())  # the same set, drawn once
    assert not torch.equal(first, second)  # in a new order


def test_undersample_fixed_set_cuts_every_class_down():
    sampler = UnderSampler()
    gen = generator(0, "order")
    first = sampler.epoch_order(LABELS, 32, 1, 5, gen)
    assert len(first) == min(COUNTS) * len(COUNTS) == sampler.epoch_length(LABELS)
    assert np.bincount(LABELS[first].numpy()).tolist() == [min(COUNTS)] * len(COUNTS)
    assert len(set(first.tolist())) == len(first)  # without replacement
    second = sampler.epoch_order(LABELS, 32, 2, 5, gen)
    assert sorted(first.tolist()) == sorted(second.tolist())


def test_none_is_the_historical_randperm():
    a, b = generator(7, "order"), generator(7, "order")
    for epoch in (1, 2, 3):
        assert torch.equal(
            NoSampler().epoch_order(LABELS, 32, epoch, 3, a),
            torch.randperm(len(LABELS), generator=b),
        )


@pytest.mark.parametrize(
    "make", [NoSampler, lambda: PowerSampler(0.0), ProgressiveSampler, OverSampler, UnderSampler]
)
def test_each_seed_its_own_reproducible_stream(make):
    def orders(seed: int) -> list[torch.Tensor]:
        sampler, gen = make(), generator(seed, "order")
        return [sampler.epoch_order(LABELS, 32, e, 3, gen) for e in (1, 2, 3)]

    again, other = orders(0), orders(1)
    for x, y, z in zip(orders(0), again, other, strict=True):
        assert torch.equal(x, y)
        assert not torch.equal(x, z)


def test_smote_without_imbalanced_learn_is_one_config_error(monkeypatch):
    real_import = builtins.__import__

    def no_imblearn(name, *args, **kwargs):
        if name == "imblearn" or name.startswith("imblearn."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_imblearn)
    with pytest.raises(ConfigError, match=r"pip install 'lossbench\[imbalanced\]'") as info:
        SmoteSampler()
    assert "\n" not in str(info.value)


@pytest.mark.skipif(not HAS_IMBLEARN, reason="needs the extra: pip install 'lossbench[imbalanced]'")
def test_smote_balances_and_keeps_the_original_rows():
    x = torch.randn(len(LABELS), 3, generator=torch.Generator().manual_seed(0))
    sampler = SmoteSampler(k_neighbors=3)
    xr, yr = sampler.resample(x, LABELS, generator(0, "resample"))
    assert np.bincount(yr.numpy()).tolist() == [max(COUNTS)] * len(COUNTS)
    assert len(yr) == sampler.epoch_length(LABELS) == sampler.epoch_length(yr)
    assert torch.equal(xr[: len(x)], x) and torch.equal(yr[: len(x)], LABELS)
    again, _ = SmoteSampler(k_neighbors=3).resample(x, LABELS, generator(0, "resample"))
    assert torch.equal(again, xr)  # the member's own random_state
    other, _ = SmoteSampler(k_neighbors=3).resample(x, LABELS, generator(1, "resample"))
    assert not torch.equal(other, xr)
    with pytest.raises(ConfigError, match="sampler.k_neighbors=5"):
        SmoteSampler(k_neighbors=5).resample(x, LABELS, generator(0, "resample"))


# -- end to end ------------------------------------------------------------------

FAST = ["trainer.epochs=3", "trainer.progress=false", "dataset.n_samples=400"]
BOOKKEEPING = ("seeds", "splits", "wall_time_s", "job_wall_time_s", "versions")


def _computed(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in BOOKKEEPING}


@pytest.mark.parametrize(
    "extra",
    [
        ["sampler=class_balanced"],
        ["sampler=progressive", "trainer.batch_size=full"],
        ["sampler=undersample", "trainer.batch_size=32"],
    ],
    ids=["class_balanced", "progressive-fullbatch", "undersample"],
)
def test_batched_members_equal_single_runs(tmp_path, monkeypatch, extra):
    monkeypatch.chdir(tmp_path)
    args = [*FAST, *extra]
    run_inprocess(["splits=[3,5]", "seeds=2", *args], tmp_path / "job")
    for split in (3, 5):
        for seed in (0, 1):
            single = tmp_path / f"single_{split}_{seed}"
            run_inprocess([*args, f"dataset.seed={split}", f"seed={seed}"], single)
            member = tmp_path / "job" / f"split_{split}" / f"seed_{seed}"
            batched, alone = read_metrics(member), read_metrics(single)
            assert batched["status"] == "completed"
            assert batched["choices"]["sampler"] == extra[0].split("=")[1]
            assert _computed(batched) == _computed(alone), (split, seed)
            assert (member / "history.csv").read_text() == (single / "history.csv").read_text()


def test_a_sampler_changes_training_and_none_does_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_inprocess(FAST, tmp_path / "plain")
    run_inprocess([*FAST, "sampler=none"], tmp_path / "none")
    run_inprocess([*FAST, "sampler=class_balanced"], tmp_path / "cb")
    plain, none, cb = (read_metrics(tmp_path / d) for d in ("plain", "none", "cb"))
    assert plain["metrics"] == none["metrics"] and plain["config_hash"] == none["config_hash"]
    assert cb["metrics"] != plain["metrics"] and cb["config_hash"] != plain["config_hash"]


def test_samplers_listed_and_regression_refused(cli):
    listing = cli("list", "samplers").stdout
    for name in ("none", "class_balanced", "sqrt", "progressive", "oversample", "smote"):
        assert name in listing
    regression = ["dataset=diabetes", "loss=mse", "sampler=class_balanced", *FAST[:2]]
    bad = cli("run", *regression, check=False)
    assert bad.returncode == 2
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "sampler=class_balanced" in lines[0], bad.stderr
    typo = cli("run", "sampler=class_balanced", "sampler.powr=1", *FAST, check=False)
    assert typo.returncode == 2 and "did you mean sampler.power" in typo.stderr
