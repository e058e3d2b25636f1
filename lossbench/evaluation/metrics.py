"""Test and validation metrics per task, computed with scikit-learn.

Names here are the column names in ``metrics.json`` and every table. Every
function takes the :class:`Dataset` (for the task, the class count and the
training-split statistics that group metrics need), the true targets of the split
being scored, and one model's predictions: logits ``[N, C]`` for classification,
values shaped like the targets otherwise.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn import metrics as skm

from lossbench.data import Dataset

# Direction of each metric, for early stopping, "best epoch" and reports.
GREATER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "balanced_accuracy": True,
    "macro_f1": True,
    "roc_auc": True,
    "average_precision": True,
    "mse": False,
    "mae": False,
    "loss": False,
}

DEFAULT_MONITOR = {"classification": "balanced_accuracy", "regression": "mse", "forecast": "mse"}


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).numpy() if t.is_floating_point() else t.numpy()


def _binary_score(z: np.ndarray) -> np.ndarray:
    """Log-odds of class 1 from two logits: a monotone score for ranking metrics."""
    return z[:, 1] - z[:, 0]


# name -> f(y_true, logits, y_pred, n_classes); binary-only metrics are marked below.
_CLASSIFICATION = {
    "accuracy": lambda y, z, p, c: skm.accuracy_score(y, p),
    "balanced_accuracy": lambda y, z, p, c: skm.balanced_accuracy_score(y, p),
    "macro_f1": lambda y, z, p, c: skm.f1_score(
        y, p, labels=list(range(c)), average="macro", zero_division=0
    ),
    "roc_auc": lambda y, z, p, c: skm.roc_auc_score(y, _binary_score(z)),
    "average_precision": lambda y, z, p, c: skm.average_precision_score(y, _binary_score(z)),
}
_BINARY_ONLY = ("roc_auc", "average_precision")

_REGRESSION = {
    "mse": lambda y, p: skm.mean_squared_error(y, p),
    "mae": lambda y, p: skm.mean_absolute_error(y, p),
}


def known_metrics(data: Dataset) -> list[str]:
    """The scalar metric names reported for ``data`` (valid values of ``trainer.monitor``)."""
    task, n_classes = data.task, data.n_classes
    if task == "classification":
        return [m for m in _CLASSIFICATION if n_classes == 2 or m not in _BINARY_ONLY]
    return list(_REGRESSION)


def _metric(name: str, task: str, y_true: torch.Tensor, pred: torch.Tensor, n_classes: int | None):
    y = _numpy(y_true)
    if task == "classification":
        z = _numpy(pred)
        return _CLASSIFICATION[name](y, z, z.argmax(axis=-1), n_classes)
    return _REGRESSION[name](y.reshape(-1), _numpy(pred).reshape(-1))


def compute(data: Dataset, y_true: torch.Tensor, pred: torch.Tensor) -> dict[str, float]:
    """All metrics of ``task`` for one model's predictions (logits for classification).

    Classification: accuracy, balanced accuracy, macro-F1, recall of each class
    (``recall_class_<c>``); binary adds ROC-AUC and average precision on the
    log-odds. Regression and forecast: MSE and MAE over all target elements.
    """
    task, n_classes = data.task, data.n_classes
    binary_ok = task != "classification" or len(torch.unique(y_true)) == 2
    out = {
        name: float(_metric(name, task, y_true, pred, n_classes))
        for name in known_metrics(data)
        if binary_ok or name not in _BINARY_ONLY
    }
    if task == "classification":
        y, p = _numpy(y_true), _numpy(pred).argmax(axis=-1)
        recall = skm.recall_score(
            y, p, labels=list(range(n_classes)), average=None, zero_division=0
        )
        out.update({f"recall_class_{c}": float(r) for c, r in enumerate(recall)})
    return out


def _balanced_accuracy(y: torch.Tensor, y_pred: torch.Tensor) -> float:
    """Mean recall over the classes present in ``y`` (scikit-learn's definition)."""
    n = torch.bincount(y).double()
    hits = torch.bincount(y[y_pred == y], minlength=n.numel()).double()
    present = n > 0
    return float((hits[present] / n[present]).mean())


# Per-epoch validation monitors computed in torch: equal to scikit-learn's values
# (tested) and ~15x cheaper, which matters when a small model trains in seconds.
_FAST_MONITORS = {
    "accuracy": lambda y, p: float((p.argmax(-1) == y).double().mean()),
    "balanced_accuracy": lambda y, p: _balanced_accuracy(y, p.argmax(-1)),
    "mse": lambda y, p: float(((p.double() - y.double()) ** 2).mean()),
    "mae": lambda y, p: float((p.double() - y.double()).abs().mean()),
}


def monitor_value(name: str, data: Dataset, y_true: torch.Tensor, pred: torch.Tensor) -> float:
    """One validation metric, equal to the value :func:`compute` reports for it."""
    if name in _FAST_MONITORS:
        return _FAST_MONITORS[name](y_true, pred.reshape(y_true.shape + pred.shape[y_true.ndim :]))
    return float(_metric(name, data.task, y_true, pred, data.n_classes))
