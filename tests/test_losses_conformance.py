"""The loss contract, one suite for all: every loss YAML in configs/loss/ (discovered
automatically), plus the parameter variants below, is differentiable (float64 gradcheck
with respect to the prediction, and to the target where the loss is symmetric in them),
finite at extreme inputs, and its ``mean``/``sum`` are reductions of ``none``."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from lossbench.build import build
from lossbench.registry import TASKS, config_dir
from tests.conftest import composed
from tests.sdtw_reference import HAS_NUMBA

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


_SDTW_BACKENDS = ["torch", *(["numba"] if HAS_NUMBA else [])]
# Parameter sets checked on top of each YAML's defaults: both soft-DTW backends, with and
# without the divergence or a band, and small smoothing (the numerically hard end).
VARIANTS: dict[str, list[dict]] = {
    "asymmetric": [{"class_weights": [0.5, 2.0, 1.0]}],
    "soft_dtw": [
        {"backend": b, "divergence": n, "bandwidth": bw, "gamma": g}
        for b in _SDTW_BACKENDS
        for n, bw, g in ((False, None, 0.5), (True, 1, 0.5), (True, None, 1e-4), (False, 1, 1e-4))
    ],
    "dilate": [
        {"backend": b, "alpha": 0.3, "gamma": g} for b in _SDTW_BACKENDS for g in (0.1, 1.0)
    ],
}


def _cases() -> list:
    cases = []
    for path in sorted((config_dir() / "loss").glob("*.yaml")):
        node = OmegaConf.load(path)
        for task in node.get("_tasks_") or TASKS:
            for params in [{}, *VARIANTS.get(path.stem, [])]:
                tag = ",".join(f"{k}={v}" for k, v in params.items())
                ident = f"{path.stem}-{task}" + (f"-{tag}" if tag else "")
                cases.append(pytest.param(path.stem, task, params, id=ident))
    return cases


CASES = _cases()
# Losses that compare two series symmetrically: the target's gradient is checked too.
SYMMETRIC = {"soft_dtw", "dilate"}


def make(name: str, task: str, **params) -> torch.nn.Module:
    node = composed("loss", name)
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


@pytest.mark.parametrize(("name", "task", "params"), CASES)
def test_gradcheck_float64(name, task, params):
    loss = make(name, task, **params).double()
    pred, target = inputs(task)
    pred.requires_grad_(True)
    if name in SYMMETRIC:
        target = target.log().requires_grad_(True)
        assert torch.autograd.gradcheck(loss, (pred, target))
    else:
        assert torch.autograd.gradcheck(lambda x: loss(x, target), (pred,))


def _extremes(task: str, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    if task == "classification":
        target = torch.tensor([0, 1, 2, 0, 1, 2])
        right = torch.nn.functional.one_hot(target, CLASSES).float() * 2e4 - 1e4
        return torch.cat([right[:3], right[3:].roll(1, dims=-1)]), target  # right, then wrong
    pred, target = inputs(task, torch.float32)
    pred, target = pred.sign() * scale, -target.sign() * scale
    target[:2] = pred[:2]
    return pred, target


@pytest.mark.parametrize(("name", "task", "params"), CASES)
def test_finite_at_extremes(name, task, params):
    """Logits of +-1e4 (confidently right and wrong); predictions and targets of size 1e3,
    30 and 1e-4 (huge, moderate against a tiny gamma, vanishing differences)."""
    loss = make(name, task, **params)
    for scale in (1e3,) if task == "classification" else (1e3, 30.0, 1e-4):
        pred, target = _extremes(task, scale)
        pred.requires_grad_(True)
        value = loss(pred, target)
        value.backward()
        assert value.dtype == torch.float32, scale
        assert torch.isfinite(value) and torch.isfinite(pred.grad).all(), scale


@pytest.mark.parametrize(("name", "task", "params"), CASES)
def test_mean_and_sum_are_reductions_of_none(name, task, params):
    pred, target = inputs(task, seed=1, n=9)
    per = make(name, task, **params, reduction="none")(pred, target)
    assert per.shape[0] == 9
    mean = make(name, task, **params, reduction="mean")(pred, target)
    torch.testing.assert_close(mean, per.mean())
    torch.testing.assert_close(make(name, task, **params, reduction="sum")(pred, target), per.sum())


@pytest.mark.parametrize(("name", "task", "params"), CASES)
def test_bad_reduction_is_rejected(name, task, params):
    from lossbench.errors import ConfigError

    with pytest.raises(ConfigError, match="reduction must be one of"):
        make(name, task, **params, reduction="avg")
