"""Every loss YAML in configs/loss/, discovered automatically, against the loss contract."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from lossbench.build import build
from lossbench.registry import config_dir

CLASSES = 3
# A user loss stands in for custom.yaml's unset _target_.
TARGET_OVERRIDES = {"custom": "examples.my_loss.Poly1Loss"}


def _stats(task: str) -> dict:
    g = torch.Generator().manual_seed(0)
    if task == "classification":
        counts = [60, 30, 10]
        return {
            "n_classes": CLASSES,
            "class_counts": counts,
            "class_prior": [c / 100 for c in counts],
            "train_targets": torch.repeat_interleave(torch.arange(3), torch.tensor(counts)),
        }
    if task == "regression":
        return {"train_targets": torch.randn(300, generator=g).exp()}
    return {"train_targets": torch.randn(100, 5, generator=g)}


def _cases() -> list:
    cases = []
    for path in sorted((config_dir() / "loss").glob("*.yaml")):
        node = OmegaConf.load(path)
        for task in node.get("_tasks_") or ("classification", "regression", "forecast"):
            cases.append(pytest.param(path.stem, task, id=f"{path.stem}-{task}"))
    return cases


CASES = _cases()


def make(name: str, task: str, **params) -> torch.nn.Module:
    node = OmegaConf.load(config_dir() / "loss" / f"{name}.yaml")
    if name in TARGET_OVERRIDES:
        node._target_ = TARGET_OVERRIDES[name]
    for key, value in params.items():
        node[key] = value
    return build("loss", node, **_stats(task))


def inputs(task: str, dtype=torch.float64, seed: int = 0, n: int = 7):
    g = torch.Generator().manual_seed(seed)
    if task == "classification":
        pred = torch.randn(n, CLASSES, generator=g, dtype=dtype)
        return pred, torch.randint(0, CLASSES, (n,), generator=g)
    shape = (n,) if task == "regression" else (n, 5)
    pred = torch.randn(shape, generator=g, dtype=dtype)
    return pred, torch.randn(shape, generator=g, dtype=dtype).exp()


def test_every_config_is_discovered():
    names = {case.values[0] for case in CASES}
    expected = {"ce", "mse", "asymmetric", "focal", "class_balanced", "ldam", "logit_adjusted"}
    expected |= {"balanced_softmax", "label_smoothing", "mae", "huber", "quantile", "linex"}
    expected |= {"weighted_mse", "balanced_mse", "temporal", "combined", "custom"}
    assert expected <= names


@pytest.mark.parametrize(("name", "task"), CASES)
def test_gradcheck_float64(name, task):
    loss = make(name, task).double()
    pred, target = inputs(task)
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (pred,))


@pytest.mark.parametrize(("name", "task"), CASES)
def test_finite_at_extremes(name, task):
    loss = make(name, task)
    if task == "classification":
        target = torch.tensor([0, 1, 2, 0, 1, 2])
        right = torch.nn.functional.one_hot(target, CLASSES).float() * 2e4 - 1e4
        pred = torch.cat([right[:3], right[3:].roll(1, dims=-1)])  # right, then wrong
    else:
        pred, target = inputs(task, torch.float32)
        pred, target = pred.sign() * 1e3, -target.sign() * 1e3
        target[:2] = pred[:2]
    pred.requires_grad_(True)
    value = loss(pred, target)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(pred.grad).all()


@pytest.mark.parametrize(("name", "task"), CASES)
def test_mean_and_sum_are_reductions_of_none(name, task):
    pred, target = inputs(task, seed=1, n=9)
    per = make(name, task, reduction="none")(pred, target)
    assert per.shape[0] == 9
    torch.testing.assert_close(make(name, task, reduction="mean")(pred, target), per.mean())
    torch.testing.assert_close(make(name, task, reduction="sum")(pred, target), per.sum())


@pytest.mark.parametrize(("name", "task"), CASES)
def test_bad_reduction_is_rejected(name, task):
    from lossbench.errors import ConfigError

    with pytest.raises(ConfigError, match="reduction must be one of"):
        make(name, task, reduction="avg")
