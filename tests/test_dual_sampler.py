"""``sampler=dual``: a fixed number of positives in every mini-batch (LibAUC DualSampler)."""

from __future__ import annotations

import pytest
import torch

from lossbench.errors import ConfigError
from lossbench.seeding import generator
from lossbench.training.samplers import DualSampler
from tests.conftest import read_metrics
from tests.inprocess import run_inprocess
from tests.test_samplers import FAST, _computed

# 30 positives (class 1, the minority) among 200 rows, shuffled
LABELS = torch.zeros(200, dtype=torch.long)
LABELS[:30] = 1
LABELS = LABELS[torch.randperm(200, generator=torch.Generator().manual_seed(0))]


@pytest.mark.parametrize(("rate", "batch", "num_pos"), [(0.5, 32, 16), (0.25, 32, 8), (0.1, 20, 2)])
def test_every_batch_holds_its_share_of_positives(rate, batch, num_pos):
    sampler = DualSampler(sampling_rate=rate, batch_size=batch)
    gen = generator(0, "order")
    for epoch in (1, 2):
        order = sampler.epoch_order(LABELS, batch, epoch, 2, gen)
        assert order.dtype == torch.int64 and len(order) == sampler.epoch_length(LABELS)
        batches = LABELS[order].view(-1, batch)
        assert torch.all(batches.sum(1) == num_pos)  # positives per batch, exactly
        n_batches = max(30 // num_pos, 170 // (batch - num_pos))
        assert len(batches) == n_batches
        # each class's rows as evenly as the count allows (permutations, concatenated)
        seen = torch.bincount(order, minlength=200)
        for c in (0, 1):
            rows = seen[LABELS.eq(c)]
            assert int(rows.max()) - int(rows.min()) <= 1


def test_full_batch_length_and_positive_class():
    sampler = DualSampler(sampling_rate=0.5, batch_size="full")
    order = sampler.epoch_order(LABELS, 200, 1, 1, generator(0, "order"))
    assert len(order) == sampler.epoch_length(LABELS) == 200
    assert int(LABELS[order].sum()) == 100  # positives cycled up to half the batch
    flipped = DualSampler(sampling_rate=0.25, positive_class=0, batch_size=40)
    order = flipped.epoch_order(LABELS, 40, 1, 1, generator(0, "order"))
    assert torch.all((LABELS[order] == 0).view(-1, 40).sum(1) == 10)


def test_bad_inputs():
    with pytest.raises(ValueError, match="sampling_rate"):
        DualSampler(sampling_rate=1.0)
    with pytest.raises(ConfigError, match="both classes"):
        DualSampler().epoch_order(torch.zeros(10, dtype=torch.long), 4, 1, 1, generator(0, "x"))


@pytest.mark.slow
def test_dual_with_soap_batched_members_equal_single_runs(tmp_path, monkeypatch):
    """splits x seeds in one model with per-sample SOAP state and dual batches: each member
    equals its own single run."""
    monkeypatch.chdir(tmp_path)
    args = [*FAST, "sampler=dual", "sampler.sampling_rate=0.3", "loss=average_precision"]
    args += ["trainer.batch_size=64"]
    run_inprocess(["splits=[3,5]", "seeds=2", *args], tmp_path / "job")
    for split in (3, 5):
        for seed in (0, 1):
            single = tmp_path / f"single_{split}_{seed}"
            run_inprocess([*args, f"dataset.seed={split}", f"seed={seed}"], single)
            member = tmp_path / "job" / f"split_{split}" / f"seed_{seed}"
            batched, alone = read_metrics(member), read_metrics(single)
            assert batched["status"] == "completed"
            assert batched["choices"]["sampler"] == "dual"
            assert _computed(batched) == _computed(alone), (split, seed)
            assert (member / "history.csv").read_text() == (single / "history.csv").read_text()


ADDS_ROWS = '''
import torch
from lossbench.training.samplers import Sampler


class AddsRows(Sampler):
    permutes = True

    def resample(self, x, y, gen):
        return torch.cat([x, x[:1]]), torch.cat([y, y[:1]])

    def epoch_order(self, labels, batch_size, epoch, epochs, gen):
        return torch.randperm(int(labels.shape[0]), generator=gen)
'''


def test_indexed_loss_refuses_a_sampler_that_adds_rows(cli, tmp_path, monkeypatch):
    """Synthetic rows (SMOTE) have no training index: one line, exit 2, before training."""
    (tmp_path / "addsrows.py").write_text(ADDS_ROWS)
    monkeypatch.syspath_prepend(str(tmp_path))
    args = ["loss=average_precision", "sampler=none", "sampler._target_=addsrows.AddsRows"]
    bad = cli("run", *args, *FAST, check=False)
    assert bad.returncode == 2, bad.stderr
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "adds rows to the training set" in lines[0], bad.stderr
