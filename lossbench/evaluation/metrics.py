"""Test and validation metrics per task.

Names here are the column names in ``metrics.json`` and every table. Every
function takes the :class:`Dataset` (for the task, the class count and the
training-split statistics that group metrics need), the true targets of the split
being scored, and one model's predictions: logits ``[N, C]`` for classification,
values shaped like the targets otherwise. A group metric whose group has no
sample in the scored split is NaN (``null`` in ``metrics.json``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn import metrics as skm

from lossbench.data import Dataset
from lossbench.data.profiles import bin_index, target_regions

# Direction of each metric and the default monitor per task live in the one torch-free
# registry; re-exported here under the names training imports.
from lossbench.evaluation.registry import DEFAULT_MONITOR as DEFAULT_MONITOR
from lossbench.evaluation.registry import GREATER_IS_BETTER as GREATER_IS_BETTER
from lossbench.evaluation.registry import GROUPS

ECE_BINS = 15
_BINARY_ONLY = ("roc_auc", "average_precision", "f1_best_threshold")
_SHOT = tuple(f"{g}_shot_accuracy" for g in GROUPS)
_CLASSIFICATION = ("accuracy", "balanced_accuracy", "macro_f1", "gmean", "ece")
_REGRESSION = ("mse", "mae", *(f"{m}_{g}" for m in ("mse", "mae") for g in GROUPS), "gmean_ae")
_FORECAST = ("mse", "mae", "dtw", "tdi", "smape", "mase")


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).numpy() if t.is_floating_point() else t.numpy()


def known_metrics(data: Dataset) -> list[str]:
    """The scalar metric names reported for ``data`` (valid values of ``trainer.monitor``)."""
    if data.task == "classification":
        names = list(_CLASSIFICATION)
        if shot_groups(data):
            names += _SHOT
        if data.n_classes == 2:
            names += _BINARY_ONLY
        return names
    return list(_REGRESSION if data.task == "regression" else _FORECAST)


# -- classification ------------------------------------------------------------
def shot_groups(data: Dataset) -> dict[str, list[int]]:
    """The many / medium / few class groups, or ``{}`` where there is no long tail.

    Shot accuracies (Liu et al. 2019) are reported only when the dataset declares
    groups (``info["shot_groups"]``; the long-tailed sets do so only when their
    training profile spans more than one count group, see
    :func:`lossbench.data.profiles.spans_shot_groups`) *and* the training counts
    really differ between them: every class of the first non-empty group has more
    training samples than every class of the last one. On balanced data (e.g.
    ``imbalance_ratio=1``) "few-shot accuracy" would only be the accuracy of some
    arbitrary classes, so it is left out.
    """
    declared = data.info.get("shot_groups") or {}
    filled = [classes for classes in declared.values() if classes]
    if len(filled) < 2:
        return {}
    counts = data.class_counts()
    if min(counts[c] for c in filled[0]) <= max(counts[c] for c in filled[-1]):
        return {}
    return dict(declared)


def positive_class(data: Dataset) -> int:
    """The positive class of the binary ranking metrics: ``info["positive_class"]`` if the
    dataset names one, else the minority class (fewest training samples; class 1 on a tie).

    Average precision and best-threshold F1 are not symmetric in the two classes; on
    the majority class they sit near 1 for any reasonable model (breast_cancer's
    class 1, benign, is the majority: AP 0.998 for every loss), so the rare class is
    the one they score, as in the imbalanced-learning literature.
    """
    if "positive_class" in data.info:
        return int(data.info["positive_class"])
    counts = data.class_counts()
    return 0 if counts[0] < counts[1] else 1


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def gmean_recall(y: np.ndarray, y_pred: np.ndarray) -> float:
    """Geometric mean of the recalls of the classes present in ``y`` (Kubat & Matwin 1997)."""
    recalls = [float((y_pred[y == c] == c).mean()) for c in np.unique(y)]
    return float(np.prod(recalls) ** (1.0 / len(recalls)))


def expected_calibration_error(y: np.ndarray, prob: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE of Guo et al. 2017: sum_b |B_b|/N * |accuracy(B_b) - confidence(B_b)|.

    Confidence is the maximum class probability; ``n_bins`` equal-width bins
    (lo, hi] over [0, 1].
    """
    conf, hit = prob.max(axis=-1), (prob.argmax(axis=-1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        m = bins == b
        total += m.mean() * abs(hit[m].mean() - conf[m].mean())
    return float(total)


def best_threshold_f1(y: np.ndarray, score: np.ndarray) -> float:
    """The largest F1 of class 1 over all thresholds on ``score`` (predict 1 if score >= t);
    ``y`` is 1 for the positive class.

    An oracle on the scored split: the upper bound that threshold moving can reach.
    """
    order = np.argsort(-score, kind="stable")
    s, pos = score[order], (y[order] == 1).astype(np.float64)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # end of each distinct score
    tp, fp = np.cumsum(pos)[last], np.cumsum(1.0 - pos)[last]
    fn = pos.sum() - tp
    return float(np.max(2 * tp / np.maximum(2 * tp + fp + fn, 1e-300)))


def shot_accuracy(y: np.ndarray, y_pred: np.ndarray, classes: list[int]) -> float:
    """Accuracy on the samples whose true class is in ``classes`` (Liu et al. 2019)."""
    m = np.isin(y, classes)
    return float((y_pred[m] == y[m]).mean()) if m.any() else math.nan


def classification(data: Dataset, y: np.ndarray, z: np.ndarray) -> dict[str, float]:
    n_classes = int(data.n_classes)
    y_pred = z.argmax(axis=-1)
    labels = list(range(n_classes))
    out = {
        "accuracy": skm.accuracy_score(y, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, y_pred),
        "macro_f1": skm.f1_score(y, y_pred, labels=labels, average="macro", zero_division=0),
        "gmean": gmean_recall(y, y_pred),
        "ece": expected_calibration_error(y, softmax(z)),
    }
    for group, classes in shot_groups(data).items():
        out[f"{group}_shot_accuracy"] = shot_accuracy(y, y_pred, classes)
    if n_classes == 2 and len(np.unique(y)) == 2:
        pos = positive_class(data)
        is_pos = (y == pos).astype(np.int64)
        score = z[:, pos] - z[:, 1 - pos]  # log-odds of the positive class, a monotone score
        out["roc_auc"] = skm.roc_auc_score(is_pos, score)  # symmetric in the classes
        out["average_precision"] = skm.average_precision_score(is_pos, score)
        out["f1_best_threshold"] = best_threshold_f1(is_pos, score)
    recall = skm.recall_score(y, y_pred, labels=labels, average=None, zero_division=0)
    out.update({f"recall_class_{c}": r for c, r in enumerate(recall)})
    return out


# -- regression ----------------------------------------------------------------
def gmean_abs_error(y: np.ndarray, p: np.ndarray) -> float:
    """Geometric mean of absolute errors, exp(mean log |e|) (Yang et al. 2021); 0 if any e=0."""
    err = np.abs(p - y)
    if (err == 0).any():
        return 0.0
    return float(np.exp(np.log(err).mean()))


def _regions(data: Dataset) -> dict[str, Any]:
    regions = data.info.get("target_regions")
    return regions if regions else target_regions(_numpy(data.train.y))


def regression(data: Dataset, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    out = {"mse": skm.mean_squared_error(y, p), "mae": skm.mean_absolute_error(y, p)}
    regions = _regions(data)
    labels = np.array(regions["labels"])[bin_index(y, regions["edges"])]
    for group in GROUPS:
        m = labels == group
        err = p[m] - y[m]
        out[f"mse_{group}"] = float((err**2).mean()) if m.any() else math.nan
        out[f"mae_{group}"] = float(np.abs(err).mean()) if m.any() else math.nan
    out["gmean_ae"] = gmean_abs_error(y, p)
    return out


# -- forecasting ---------------------------------------------------------------
def dtw_tdi(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample DTW and TDI between target and prediction series [N, H] or [N, H, D].

    DTW is the square root of the smallest summed squared Euclidean distance over
    alignment paths (tslearn's ``dtw``). TDI, the temporal distortion index as
    DILATE evaluates it (Le Guen & Thome 2019; Frias-Paredes et al. 2017), is
    sum over the optimal path of (i - j)^2, normalised by H^2 (H = horizon), so a
    perfectly timed forecast (diagonal path) scores 0. The path is traced back
    from (H-1, H-1) preferring the diagonal, then (i-1, j), then (i, j-1) on ties,
    as tslearn's ``dtw_path`` does with the target as the first series.
    """
    y = y.reshape(*y.shape[:2], -1)
    p = p.reshape(*p.shape[:2], -1)
    n, h, h2 = y.shape[0], y.shape[1], p.shape[1]
    cost = ((y[:, :, None, :] - p[:, None, :, :]) ** 2).sum(-1)
    acc = np.full((n, h + 1, h2 + 1), np.inf)
    acc[:, 0, 0] = 0.0
    for i in range(1, h + 1):
        for j in range(1, h2 + 1):
            best = np.minimum(np.minimum(acc[:, i - 1, j - 1], acc[:, i - 1, j]), acc[:, i, j - 1])
            acc[:, i, j] = cost[:, i - 1, j - 1] + best
    dtw = np.sqrt(acc[:, h, h2])
    rows = np.arange(n)
    i, j = np.full(n, h - 1), np.full(n, h2 - 1)
    dist = (i - j).astype(np.float64) ** 2
    while True:
        active = (i > 0) | (j > 0)
        if not active.any():
            break
        # candidates in acc's padded coordinates: (i-1, j-1), (i-1, j), (i, j-1)
        cand = np.stack([acc[rows, i, j], acc[rows, i, j + 1], acc[rows, i + 1, j]], axis=1)
        step = np.argmin(cand, axis=1)
        step = np.where(i == 0, 2, np.where(j == 0, 1, step))
        di = np.where(active & (step != 2), 1, 0)
        dj = np.where(active & (step != 1), 1, 0)
        i, j = i - di, j - dj
        dist += np.where(active, (i - j).astype(np.float64) ** 2, 0.0)
    return dtw, dist / (h * h)


def smape(y: np.ndarray, p: np.ndarray) -> float:
    """Symmetric MAPE in percent, 100 * mean 2|p - y| / (|y| + |p|), as in the M4 competition
    (Makridakis et al. 2020); a term with y = p = 0 counts 0. Range [0, 200]."""
    den = np.abs(y) + np.abs(p)
    terms = np.where(den > 0, 2 * np.abs(p - y) / np.where(den > 0, den, 1.0), 0.0)
    return float(100 * terms.mean())


def _mase_scale(data: Dataset) -> float:
    if "mase_scale" in data.info:
        return float(data.info["mase_scale"])
    y = _numpy(data.train.y)
    return float(np.abs(np.diff(y, axis=1)).mean()) if y.ndim > 1 and y.shape[1] > 1 else math.nan


def forecast(data: Dataset, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """MSE, MAE, DTW and TDI on the model's (scaled) values; sMAPE on the original scale;
    MASE (Hyndman & Koehler 2006) = MAE / the training series' naive one-step MAE."""
    dtw, tdi = dtw_tdi(y, p)
    mean, std = float(data.info.get("target_mean", 0.0)), float(data.info.get("target_std", 1.0))
    mae = skm.mean_absolute_error(y.reshape(-1), p.reshape(-1))
    return {
        "mse": skm.mean_squared_error(y.reshape(-1), p.reshape(-1)),
        "mae": mae,
        "dtw": float(dtw.mean()),
        "tdi": float(tdi.mean()),
        "smape": smape(y * std + mean, p * std + mean),
        "mase": mae / _mase_scale(data),
    }


def compute(data: Dataset, y_true: torch.Tensor, pred: torch.Tensor) -> dict[str, float]:
    """All metrics of ``data.task`` for one model's predictions (logits for classification).

    Classification: accuracy, balanced accuracy, macro-F1, G-mean of recalls,
    ECE (15 equal-width bins), recall of each class (``recall_class_<c>``),
    many/medium/few-shot accuracy on long-tailed sets (:func:`shot_groups`); binary
    adds ROC-AUC, average precision and the best-threshold F1, all on the log-odds of
    the positive class, which is the minority class of the training split
    (:func:`positive_class`).
    Regression: MSE and MAE overall and per many/medium/few target region, and
    the G-mean of absolute errors. Forecast: MSE, MAE, DTW, TDI, sMAPE, MASE.
    """
    y = _numpy(y_true)
    p = _numpy(pred)
    if data.task == "classification":
        out = classification(data, y, p)
    else:
        p = p.reshape(y.shape)
        out = regression(data, y, p) if data.task == "regression" else forecast(data, y, p)
    return {k: float(v) for k, v in out.items()}


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
    return compute(data, y_true, pred).get(name, math.nan)
