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
from lossbench.training.loss_params import wants_index
from tests.conftest import composed
from tests.sdtw_reference import HAS_NUMBA

CLASSES = 3
# Losses that rank one class above the other (AUROC / AP surrogates): binary data only,
# checked on 2 classes (their positive class = the minority, class 1 here).
BINARY = {"auc_margin", "auc_square", "auc_pairwise", "average_precision"}
# A user loss stands in for custom.yaml's unset _target_.
TARGET_OVERRIDES = {"custom": "examples.my_loss.Poly1Loss"}


def _classes(name: str) -> int:
    return 2 if name in BINARY else CLASSES


def _stats(task: str, classes: int = CLASSES) -> dict:
    g = torch.Generator().manual_seed(0)
    if task == "classification" and classes == 2:
        counts = [70, 30]
        return {
            "n_classes": 2,
            "class_counts": counts,
            "class_prior": [c / 100 for c in counts],
            "train_targets": torch.repeat_interleave(torch.arange(2), torch.tensor(counts)),
            "positive_class": 1,
            "n_train": 100,
        }
    if task == "classification":
        counts = [60, 30, 10]
        return {
            "n_classes": CLASSES,
            "class_counts": counts,
            "class_prior": [c / 100 for c in counts],
            "train_targets": torch.repeat_interleave(torch.arange(3), torch.tensor(counts)),
            "n_train": 100,
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
    return build("loss", node, **_stats(task, _classes(name)))


def inputs(task: str, dtype=torch.float64, seed: int = 0, n: int = 7, classes: int = CLASSES):
    g = torch.Generator().manual_seed(seed)
    if task == "classification":
        pred = torch.randn(n, classes, generator=g, dtype=dtype)
        target = torch.randint(0, classes, (n,), generator=g)
        target[:classes] = torch.arange(classes)  # every class present (pairwise losses)
        return pred, target
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
    pred, target = inputs(task, classes=_classes(name))
    pred.requires_grad_(True)
    if name in SYMMETRIC:
        target = target.log().requires_grad_(True)
        assert torch.autograd.gradcheck(loss, (pred, target))
    else:
        assert torch.autograd.gradcheck(lambda x: loss(x, target), (pred,))


def _extremes(
    task: str, scale: float, classes: int = CLASSES
) -> tuple[torch.Tensor, torch.Tensor]:
    if task == "classification":
        target = torch.arange(classes).repeat(2)
        right = torch.nn.functional.one_hot(target, classes).float() * 2e4 - 1e4
        wrong = right[classes:].roll(1, dims=-1)
        return torch.cat([right[:classes], wrong]), target  # right, then wrong
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
        pred, target = _extremes(task, scale, _classes(name))
        # a loss that takes the batch's sample indices is checked with them too (training)
        for extra in [{}, *([{"index": torch.arange(len(target))}] if wants_index(loss) else [])]:
            pred = pred.detach().requires_grad_(True)
            value = loss(pred, target, **extra)
            value.backward()
            assert value.dtype == torch.float32, scale
            assert torch.isfinite(value) and torch.isfinite(pred.grad).all(), scale


@pytest.mark.parametrize(("name", "task", "params"), CASES)
def test_mean_and_sum_are_reductions_of_none(name, task, params):
    pred, target = inputs(task, seed=1, n=9, classes=_classes(name))
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
