"""New metrics: hand-computed values, scikit-learn where it has the metric, brute force for DTW."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from lossbench.data import Dataset, Split
from lossbench.evaluation import metrics


def _data(task, y, n_classes=None, info=None, train_y=None):
    split = Split(torch.zeros(len(y), 1), y)
    train = split if train_y is None else Split(torch.zeros(len(train_y), 1), train_y)
    return Dataset("t", task, train, split, split, n_classes=n_classes, info=info or {})


def test_gmean_and_shot_accuracy_hand_computed():
    y = torch.tensor([0, 0, 0, 1, 2, 2])
    z = torch.nn.functional.one_hot(torch.tensor([0, 0, 1, 1, 2, 0]), 3).float()
    groups = {"many": [0], "medium": [1], "few": [2]}
    m = metrics.compute(_data("classification", y, 3, {"shot_groups": groups}), y, z)
    assert m["gmean"] == pytest.approx((2 / 3 * 1 * 1 / 2) ** (1 / 3))
    assert m["many_shot_accuracy"] == pytest.approx(2 / 3)
    assert m["medium_shot_accuracy"] == 1.0 and m["few_shot_accuracy"] == 0.5
    recalls = skm.recall_score(y, z.argmax(1), average=None)
    assert m["gmean"] == pytest.approx(float(np.prod(recalls) ** (1 / 3)))
    assert "roc_auc" not in m and "f1_best_threshold" not in m


def test_ece_hand_computed_15_bins():
    # max probabilities 0.9 (right), 0.9 (wrong), 0.7 (right), 0.7 (right)
    p = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.7, 0.3]], dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0])
    m = metrics.compute(_data("classification", y, 2), y, p.log())
    assert m["ece"] == pytest.approx(0.5 * abs(0.5 - 0.9) + 0.5 * abs(1.0 - 0.7))


def test_ece_zero_when_confidence_equals_accuracy():
    # 4 samples at confidence 0.75, three right: calibrated
    p = torch.tensor([[0.75, 0.25]] * 4, dtype=torch.float64)
    y = torch.tensor([0, 0, 0, 1])
    assert metrics.compute(_data("classification", y, 2), y, p.log())["ece"] == pytest.approx(0.0)


def test_best_threshold_f1_hand_and_sklearn():
    y = np.array([0, 0, 1, 1])
    assert metrics.best_threshold_f1(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.8)
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.integers(0, 2, 60)
        s = np.round(rng.normal(size=60), 1)  # rounded: ties between scores
        prec, rec, _ = skm.precision_recall_curve(y, s)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0)
        assert metrics.best_threshold_f1(y, s) == pytest.approx(f1.max(), abs=1e-12)


def test_binary_metrics_present():
    y = torch.tensor([0, 0, 1, 1])
    z = torch.tensor([[0.0, 0.1], [0.0, 0.4], [0.0, 0.35], [0.0, 0.8]])
    m = metrics.compute(_data("classification", y, 2), y, z)
    assert m["f1_best_threshold"] == pytest.approx(0.8)
    assert m["roc_auc"] == pytest.approx(0.75)


REGIONS = {"edges": [0.0, 1.0, 2.0, 3.0], "labels": ["many", "medium", "few"]}


def test_regression_regions_hand_computed():
    y = torch.tensor([0.5, 1.5, 2.5, 2.7], dtype=torch.float64)
    p = torch.tensor([0.5, 2.5, 2.0, 3.7], dtype=torch.float64)
    m = metrics.compute(_data("regression", y, info={"target_regions": REGIONS}), y, p)
    assert m["mse_many"] == 0.0 and m["mae_many"] == 0.0
    assert m["mse_medium"] == 1.0 and m["mae_medium"] == 1.0
    assert m["mse_few"] == pytest.approx((0.25 + 1.0) / 2)
    assert m["mae_few"] == pytest.approx(0.75)
    assert m["mae_few"] == pytest.approx(skm.mean_absolute_error(y[2:], p[2:]))
    assert m["mse"] == pytest.approx(skm.mean_squared_error(y, p))
    assert m["gmean_ae"] == 0.0  # one exact prediction


def test_regression_empty_region_is_nan_and_gmean():
    y = torch.tensor([0.5, 0.6, 0.7], dtype=torch.float64)
    p = y + torch.tensor([1.0, -2.0, 4.0], dtype=torch.float64)
    m = metrics.compute(_data("regression", y, info={"target_regions": REGIONS}), y, p)
    assert m["gmean_ae"] == pytest.approx(2.0)  # (1 * 2 * 4)^(1/3)
    assert math.isnan(m["mae_few"]) and math.isnan(m["mse_medium"])


def test_regression_regions_derived_from_training_split_when_missing():
    train_y = torch.cat([torch.zeros(150), torch.full((50,), 0.5), torch.ones(5)])
    y = torch.tensor([0.0, 0.5, 1.0])
    m = metrics.compute(_data("regression", y, train_y=train_y), y, y + 1)
    assert m["mae_many"] == m["mae_medium"] == m["mae_few"] == pytest.approx(1.0)


def _brute_force_dtw(y, p):
    """Every monotone warping path of two short series: (min cost, its sum of (i-j)^2)."""
    h = len(y)

    def paths(i, j):
        if (i, j) == (h - 1, h - 1):
            yield [(i, j)]
            return
        for di, dj in ((1, 1), (1, 0), (0, 1)):
            if i + di < h and j + dj < h:
                for rest in paths(i + di, j + dj):
                    yield [(i, j), *rest]

    best = min(paths(0, 0), key=lambda path: sum((y[i] - p[j]) ** 2 for i, j in path))
    cost = sum((y[i] - p[j]) ** 2 for i, j in best)
    return math.sqrt(cost), sum((i - j) ** 2 for i, j in best)


def test_dtw_tdi_against_brute_force():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    dtw, tdi = metrics.dtw_tdi(y, p)
    for k in range(6):
        ref_dtw, ref_dist = _brute_force_dtw(y[k], p[k])
        assert dtw[k] == pytest.approx(ref_dtw, abs=1e-12)
        assert tdi[k] == pytest.approx(ref_dist / 25)


def test_dtw_tdi_hand_computed():
    # a shifted copy: DTW aligns it for free, the timing error shows in TDI
    dtw, tdi = metrics.dtw_tdi(np.array([[0.0, 1.0, 0.0, 0.0]]), np.array([[0.0, 0.0, 1.0, 0.0]]))
    assert dtw[0] == 0.0 and tdi[0] > 0
    # ties: diagonal preferred (tslearn's order), so a perfect timing scores TDI 0
    dtw, tdi = metrics.dtw_tdi(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]))
    assert dtw[0] == 1.0 and tdi[0] == 0.0
    same = np.array([[1.0, 2.0, 3.0]])
    assert metrics.dtw_tdi(same, same)[0][0] == 0.0 and metrics.dtw_tdi(same, same)[1][0] == 0.0


def test_forecast_smape_mase_hand_computed():
    y = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    p = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    info = {"target_mean": 10.0, "target_std": 2.0, "mase_scale": 0.25}
    m = metrics.compute(_data("forecast", y, info=info), y, p)
    # original scale: y = [10, 12], p = [12, 12]
    assert m["smape"] == pytest.approx(100 * (2 * 2 / 22 + 0) / 2)
    assert m["mae"] == 0.5 and m["mase"] == pytest.approx(0.5 / 0.25)
    assert m["mse"] == pytest.approx(0.5) and m["dtw"] == pytest.approx(1.0)
    assert metrics.smape(np.zeros(3), np.zeros(3)) == 0.0
    assert metrics.smape(np.array([1.0]), np.array([-1.0])) == 200.0


@pytest.mark.parametrize("task", ["classification", "regression", "forecast"])
def test_known_metrics_reported_with_directions_and_monitors(task):
    g = torch.Generator().manual_seed(0)
    if task == "classification":
        y = torch.arange(40) % 2
        pred = torch.randn(40, 2, generator=g)
        data = _data(task, y, 2, {"shot_groups": {"many": [0], "medium": [], "few": [1]}})
    else:
        y = torch.randn(40, 3, generator=g) if task == "forecast" else torch.randn(40, generator=g)
        pred = y + 0.3 * torch.randn(y.shape, generator=g)
        data = _data(task, y)
    full = metrics.compute(data, y, pred)
    for name in metrics.known_metrics(data):
        assert name in full and name in metrics.GREATER_IS_BETTER, name
        value = metrics.monitor_value(name, data, y, pred)
        assert value == pytest.approx(full[name], nan_ok=True), name


def test_many_shot_grouping_rules():
    from lossbench.data.profiles import exponential_profile, group_by_count

    assert exponential_profile(500, 10, 100.0) == [500, 299, 179, 107, 64, 38, 23, 13, 8, 5]
    groups, rule = group_by_count([500, 150, 60, 20, 19, 5])
    assert rule == "thresholds"
    assert groups == {"many": [0, 1], "medium": [2, 3], "few": [4, 5]}
    groups, rule = group_by_count([90, 80, 70, 60, 50, 40, 30])  # nothing > 100 or < 20
    assert rule == "thirds"
    assert groups == {"many": [0, 1, 2], "medium": [3, 4], "few": [5, 6]}


def test_binary_ranking_metrics_score_the_minority_class():
    # breast_cancer-like: class 1 is the majority (3:1) in training and test
    g = torch.Generator().manual_seed(5)
    y = torch.cat([torch.zeros(50, dtype=torch.int64), torch.ones(150, dtype=torch.int64)])
    z = torch.randn(200, 2, generator=g, dtype=torch.float64)
    z[:, 1] += 1.2 * y  # informative but imperfect
    data = _data("classification", y, 2)
    assert metrics.positive_class(data) == 0
    m = metrics.compute(data, y, z)
    minority = (y == 0).numpy().astype(int)
    score0 = (z[:, 0] - z[:, 1]).numpy()
    assert m["average_precision"] == pytest.approx(skm.average_precision_score(minority, score0))
    # best-threshold F1 by brute force over all thresholds, class 0 positive
    best = max(skm.f1_score(minority, (score0 >= t).astype(int), zero_division=0) for t in score0)
    assert m["f1_best_threshold"] == pytest.approx(best)
    # ROC AUC is symmetric: equal to the class-1 value
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y.numpy(), (z[:, 1] - z[:, 0]).numpy()))
    # the majority-class AP, what was reported before, is far higher for the same model
    majority_ap = skm.average_precision_score(y.numpy(), (z[:, 1] - z[:, 0]).numpy())
    assert majority_ap > m["average_precision"] + 0.1
    # a dataset may name its positive class; ties keep class 1
    named = _data("classification", y, 2, {"positive_class": 1})
    assert metrics.compute(named, y, z)["average_precision"] == pytest.approx(majority_ap)
    assert metrics.positive_class(_data("classification", torch.tensor([0, 1, 0, 1]), 2)) == 1


def test_shot_accuracy_only_where_the_training_counts_have_a_tail():
    y = torch.tensor([0, 0, 0, 1, 1, 2])
    z = torch.nn.functional.one_hot(torch.tensor([0, 1, 0, 1, 1, 2]), 3).float()
    groups = {"many": [0], "medium": [1], "few": [2]}
    tail = _data("classification", y, 3, {"shot_groups": groups})
    assert "few_shot_accuracy" in metrics.known_metrics(tail)
    assert metrics.compute(tail, y, z)["many_shot_accuracy"] == pytest.approx(2 / 3)
    # the same groups declared on balanced training counts: no shot metrics
    balanced = _data("classification", y, 3, {"shot_groups": groups}, train_y=torch.arange(9) % 3)
    assert metrics.shot_groups(balanced) == {}
    assert not any(k.endswith("_shot_accuracy") for k in metrics.compute(balanced, y, z))
    assert "few_shot_accuracy" not in metrics.known_metrics(balanced)
    # one filled group only
    one = _data("classification", y, 3, {"shot_groups": {"many": [], "medium": [0, 1, 2]}})
    assert metrics.shot_groups(one) == {}


def test_long_tailed_sets_declare_shot_groups_only_with_a_tail():
    from lossbench.data import longtail
    from lossbench.data.profiles import spans_shot_groups

    assert not spans_shot_groups([100] * 10)
    assert not spans_shot_groups([90, 80, 70, 60, 50, 40, 30])  # all medium
    assert spans_shot_groups([100, 50, 10])
    flat = longtail.digits_lt(imbalance_ratio=1.0)
    assert flat.info["shot_groups"] == {} and flat.info["shot_rule"] == "none"
    assert "few_shot_accuracy" not in metrics.known_metrics(flat)
    lt = longtail.digits_lt(imbalance_ratio=10.0)  # counts 100 .. 10: medium and few
    assert lt.info["shot_groups"] and "few_shot_accuracy" in metrics.known_metrics(lt)
