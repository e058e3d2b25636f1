"""The numpy metrics equal scikit-learn's on many random inputs (issue 12).

:mod:`lossbench.evaluation.metrics` computes every metric from confusion matrices
and sorted scores, for K models at once. Here each value is checked against
scikit-learn's function for it (or, where scikit-learn has none, a direct
per-sample formula) on random logits and targets: binary and multiclass, tied
scores and tied logits, classes missing from the split, perfect and all-wrong
predictions, a single class present, tiny splits.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn import metrics as skm

from lossbench.data import Dataset, Split
from lossbench.data.profiles import bin_index, target_regions
from lossbench.evaluation import metrics

TOL = {"rel": 1e-12, "abs": 1e-12, "nan_ok": True}
CASES = ("continuous", "ties", "missing", "perfect", "all_wrong", "single")


def _data(task, y, n_classes=None, info=None, train_y=None) -> Dataset:
    split = Split(torch.zeros(len(y), 1), y)
    train = split if train_y is None else Split(torch.zeros(len(train_y), 1), train_y)
    return Dataset("t", task, train, split, split, n_classes=n_classes, info=info or {})


def _ece_reference(y: np.ndarray, prob: np.ndarray, n_bins: int = 15) -> float:
    """Guo et al. 2017, one bin at a time: sum_b |B_b|/N * |acc(B_b) - conf(B_b)|."""
    conf, hit = prob.max(axis=-1), prob.argmax(axis=-1) == y
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        m = (conf > lo) & (conf <= hi) if b else conf <= hi
        if m.any():
            total += m.mean() * abs(hit[m].mean() - conf[m].mean())
    return total


def _classification_reference(data: Dataset, y: np.ndarray, z: np.ndarray) -> dict[str, float]:
    """Every classification metric from scikit-learn (and per-sample formulas)."""
    n_classes = data.n_classes
    labels, present = list(range(n_classes)), np.unique(y)
    y_pred = z.argmax(axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        balanced = skm.balanced_accuracy_score(y, y_pred)
    present_recall = skm.recall_score(y, y_pred, labels=present, average=None)
    prob = np.exp(z - z.max(axis=-1, keepdims=True))
    prob /= prob.sum(axis=-1, keepdims=True)
    out = {
        "accuracy": skm.accuracy_score(y, y_pred),
        "balanced_accuracy": balanced,
        "macro_f1": skm.f1_score(y, y_pred, labels=labels, average="macro", zero_division=0),
        "gmean": float(np.prod(present_recall) ** (1 / len(present))),
        "ece": _ece_reference(y, prob),
    }
    for group, classes in metrics.shot_groups(data).items():
        m = np.isin(y, classes)
        out[f"{group}_shot_accuracy"] = (y_pred[m] == y[m]).mean() if m.any() else math.nan
    if n_classes == 2 and len(present) == 2:
        pos = metrics.positive_class(data)
        is_pos, score = (y == pos).astype(int), z[:, pos] - z[:, 1 - pos]
        out["roc_auc"] = skm.roc_auc_score(is_pos, score)
        out["average_precision"] = skm.average_precision_score(is_pos, score)
        predicted = score[None] >= np.unique(score)[:, None]  # every threshold, brute force
        tp = (predicted & (is_pos == 1)).sum(axis=1)
        out["f1_best_threshold"] = np.max(2 * tp / (predicted.sum(axis=1) + is_pos.sum()))
    recall = skm.recall_score(y, y_pred, labels=labels, average=None, zero_division=0)
    out.update({f"recall_class_{c}": r for c, r in enumerate(recall)})
    return {k: float(v) for k, v in out.items()}


def _classification_case(case: str, n_classes: int, n: int, k: int, rng):
    """Targets [n] and logits [k, n, C] of one kind of input."""
    y = rng.integers(0, n_classes, n)
    z = rng.normal(size=(k, n, n_classes))
    if case == "ties":  # few distinct logits: tied argmax and tied ranking scores
        z = rng.integers(-2, 3, size=(k, n, n_classes)).astype(np.float64)
    elif case == "missing":  # some classes never in the split
        keep = rng.choice(n_classes, size=max(1, n_classes - 2), replace=False)
        y = rng.choice(keep, n)
    elif case == "perfect":
        z = np.broadcast_to(5.0 * np.eye(n_classes)[y], (k, n, n_classes)).copy()
        z[1:] += 0.1 * rng.normal(size=z[1:].shape)
    elif case == "all_wrong":
        z = np.tile(5.0 * np.eye(n_classes)[(y + 1) % n_classes], (k, 1, 1))
    elif case == "single":
        y = np.full(n, rng.integers(0, n_classes))
    return y, z


def _identical(a: dict[str, float], b: dict[str, float]) -> bool:
    """The same metrics with bit-identical values (NaN equal to NaN)."""
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


def _assert_equal(got: dict[str, float], want: dict[str, float]) -> None:
    assert got.keys() == want.keys()
    for name, value in want.items():
        assert got[name] == pytest.approx(value, **TOL), name


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_classification_metrics_equal_sklearn(case, n_classes):
    rng = np.random.default_rng([n_classes, CASES.index(case)])
    for n in (1, 2, 5, 40, 301):
        for shots in (False, True):
            y, z = _classification_case(case, n_classes, n, 3, rng)
            info, train_y = {}, None
            if shots and n_classes > 2:  # a long tail: class c has 3 (C - c) training samples
                groups = {"many": [0], "medium": list(range(1, n_classes - 1))}
                info = {"shot_groups": {**groups, "few": [n_classes - 1]}}
                train_y = torch.arange(n_classes).repeat_interleave(
                    3 * (n_classes - torch.arange(n_classes))
                )
            elif shots:  # the majority class of the training split is the positive class
                info, train_y = {}, torch.tensor([1, 1, 0] if rng.random() < 0.5 else [0, 0, 1])
            data = _data("classification", torch.from_numpy(y), n_classes, info, train_y)
            many = metrics.compute_many(data, torch.from_numpy(y), torch.from_numpy(z))
            assert len(many) == len(z)
            for zk, got in zip(z, many, strict=True):
                _assert_equal(got, _classification_reference(data, y, zk))
                assert _identical(
                    metrics.compute(data, torch.from_numpy(y), torch.from_numpy(zk)), got
                )


def test_binary_ranking_metrics_with_heavy_ties_equal_sklearn():
    """ROC AUC (ties count 1/2), AP (steps at distinct thresholds) and the best F1."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(2, 60))
        y = rng.integers(0, 2, n)
        if y.min() == y.max():
            y[0] = 1 - y[0]
        score = rng.integers(0, int(rng.integers(1, 6)), n).astype(np.float64)  # many ties
        tps, fps = metrics.threshold_counts(y, score)
        assert metrics.roc_auc(tps, fps) == pytest.approx(skm.roc_auc_score(y, score), **TOL)
        ap = skm.average_precision_score(y, score)
        assert metrics.average_precision(tps, fps) == pytest.approx(ap, **TOL)
        ranks = stats.rankdata(score)  # Mann-Whitney U with average ranks
        u = ranks[y == 1].sum() - (y == 1).sum() * ((y == 1).sum() + 1) / 2
        auc = u / ((y == 1).sum() * (y == 0).sum())
        assert metrics.roc_auc(tps, fps) == pytest.approx(auc, rel=1e-12)
        best = max(skm.f1_score(y, (score >= t).astype(int)) for t in np.unique(score))
        assert metrics.best_threshold_f1(y, score) == pytest.approx(best, **TOL)


def _regression_reference(data: Dataset, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    out = {"mse": skm.mean_squared_error(y, p), "mae": skm.mean_absolute_error(y, p)}
    regions = data.info.get("target_regions") or target_regions(data.train.y.numpy())
    labels = np.array(regions["labels"])[bin_index(y, regions["edges"])]
    for group in ("many", "medium", "few"):
        m = labels == group
        out[f"mse_{group}"] = skm.mean_squared_error(y[m], p[m]) if m.any() else math.nan
        out[f"mae_{group}"] = skm.mean_absolute_error(y[m], p[m]) if m.any() else math.nan
    err = np.abs(p - y)
    out["gmean_ae"] = 0.0 if (err == 0).any() else stats.gmean(err)
    return {k: float(v) for k, v in out.items()}


@pytest.mark.parametrize("seed", range(6))
def test_regression_metrics_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    train_y = torch.from_numpy(rng.exponential(size=400))  # a skewed target: all regions
    for n in (1, 3, 50, 500):
        y = rng.exponential(size=n) * (rng.random() + 0.5)
        p = y + rng.normal(scale=0.5, size=(4, n))
        p[1] = y  # perfect: every error 0
        p[2, 0] = y[0]  # one exact prediction: G-mean 0
        info = {"target_regions": target_regions(train_y.numpy())} if seed % 2 else {}
        data = _data("regression", torch.from_numpy(y), info=info, train_y=train_y)
        many = metrics.compute_many(data, torch.from_numpy(y), torch.from_numpy(p))
        for pk, got in zip(p, many, strict=True):
            _assert_equal(got, _regression_reference(data, y, pk))
            assert _identical(metrics.compute(data, torch.from_numpy(y), torch.from_numpy(pk)), got)


@pytest.mark.parametrize("cells", [metrics.DTW_CELLS, 64])  # 64: one model per DTW batch
def test_forecast_metrics_equal_sklearn_and_per_sample_formulas(cells, monkeypatch):
    monkeypatch.setattr(metrics, "DTW_CELLS", cells)
    rng = np.random.default_rng(3)
    train_y = rng.normal(size=(30, 5)).cumsum(axis=1)
    info = {"target_mean": 2.0, "target_std": 3.0}
    data = _data("forecast", torch.zeros(1, 5), info=info, train_y=torch.from_numpy(train_y))
    scale = np.abs(np.diff(train_y, axis=1)).mean()
    for n, h in ((1, 5), (17, 5), (40, 5)):
        y = rng.normal(size=(n, h))
        p = y + rng.normal(scale=0.4, size=(3, n, h))
        p[1] = y
        many = metrics.compute_many(data, torch.from_numpy(y), torch.from_numpy(p))
        for pk, got in zip(p, many, strict=True):
            dtw, tdi = metrics.dtw_tdi(y, pk)  # checked against brute force elsewhere
            yo, po = y * 3.0 + 2.0, pk * 3.0 + 2.0
            den = np.abs(yo) + np.abs(po)
            terms = [
                2 * abs(a - b) / d if d > 0 else 0.0
                for a, b, d in zip(po.ravel(), yo.ravel(), den.ravel(), strict=True)
            ]
            mae = skm.mean_absolute_error(y.ravel(), pk.ravel())
            want = {
                "mse": skm.mean_squared_error(y.ravel(), pk.ravel()),
                "mae": mae,
                "dtw": dtw.mean(),
                "tdi": tdi.mean(),
                "smape": 100 * np.mean(terms),
                "mase": mae / scale,
            }
            _assert_equal(got, {k: float(v) for k, v in want.items()})
            assert _identical(metrics.compute(data, torch.from_numpy(y), torch.from_numpy(pk)), got)


def test_dtw_batched_over_models_equals_one_model_at_a_time():
    rng = np.random.default_rng(11)
    y, p = rng.normal(size=(9, 7, 2)), rng.normal(size=(4, 9, 7, 2))
    whole = metrics.dtw_tdi(np.tile(y, (4, 1, 1)), p.reshape(-1, 7, 2))
    for k in range(4):
        dtw, tdi = metrics.dtw_tdi(y, p[k])
        np.testing.assert_array_equal(whole[0][9 * k : 9 * (k + 1)], dtw)
        np.testing.assert_array_equal(whole[1][9 * k : 9 * (k + 1)], tdi)
