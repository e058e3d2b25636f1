"""Unit tests of the pieces behind ``seeds``: parsing, record overrides, padding."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from lossbench.errors import ConfigError
from lossbench.models.stacked import ALIGN, StackedLinear, padded_cols
from lossbench.plan import job_seeds, member_overrides


@pytest.mark.parametrize(
    ("seed", "seeds", "expected"),
    [(0, None, None), (0, 5, [0, 1, 2, 3, 4]), (10, 3, [10, 11, 12]), (0, [7, 3], [7, 3])],
)
def test_job_seeds(seed, seeds, expected):
    assert job_seeds(OmegaConf.create({"seed": seed, "seeds": seeds})) == expected


@pytest.mark.parametrize("bad", [0, -2, [], [1, 1], [1, "a"], "five", True])
def test_job_seeds_rejects(bad):
    with pytest.raises(ConfigError, match="seeds must be null, a count >= 1"):
        job_seeds(OmegaConf.create({"seed": 0, "seeds": bad}))


def test_member_overrides_read_like_a_single_run():
    given = ["loss=ce", "seeds=5", "seed=2", "+trainer.x=1"]
    assert member_overrides(given, None, 3) == ["loss=ce", "+trainer.x=1", "seed=3"]


def test_member_overrides_of_a_split_read_like_a_single_run():
    given = ["dataset.seed=4", "splits=3", "loss=ce", "seeds=[1,2]"]
    assert member_overrides(given, 5, 2) == ["loss=ce", "dataset.seed=5", "seed=2"]


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (1, 2), (20, 2), (5, 1), (64, 64), (12, 4)])
def test_padded_cols(rows, cols):
    c = padded_cols(rows, cols)
    assert c >= cols and (rows * c) % ALIGN == 0
    assert c - cols < ALIGN  # never a whole spare block


def test_stacked_linear_padding_is_inert():
    layer = StackedLinear(20, 2, n_members=3)
    layer.reset_member(0, torch.Generator().manual_seed(0))
    x = torch.randn(3, 8, 20)
    w, b = layer.live()
    assert w.shape == (3, 20, 2) and b.shape == (3, 1, 2)
    torch.testing.assert_close(layer(x), torch.baddbmm(b, x, w), rtol=0, atol=0)
    layer(x).sum().backward()
    assert layer.weight.grad[..., 2:].abs().sum() == 0 and layer.bias.grad[..., 2:].abs().sum() == 0
    assert layer.weight[..., 2:].abs().sum() == 0
