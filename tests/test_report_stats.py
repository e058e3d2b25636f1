"""Report statistics against scipy/statsmodels and hand values, on synthetic job records.

Records are written as real jobs write them (``metrics.json`` with ``choices``,
``overrides``, ``seed``, ``split``, ``warnings``), so the whole report path runs, in
process and without torch.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

from lossbench.evaluation import registry
from lossbench.report import Options, make_report
from lossbench.report.cli import main as report_main
from lossbench.report.ranks import (
    cliques,
    friedman,
    nemenyi_cd,
    pairwise_wilcoxon,
    q_alpha,
    rank_rows,
)
from lossbench.report.stats import (
    compare,
    detectable_d,
    effect_size_dz,
    holm,
    min_detectable_effect,
    paired_differences,
)
from lossbench.report.tables import print_console

TASK_OF = {"mse": "regression", "ce": "classification"}


def _job(
    root: Path,
    dataset: str,
    loss: str,
    seed: int,
    metrics: dict[str, float],
    split: int | None = None,
    overrides: tuple[str, ...] = (),
    warnings: list[str] | None = None,
    task: str = "classification",
) -> None:
    """One job's ``metrics.json`` as the runner writes it."""
    tag = "-".join([dataset, loss, *(o.replace("=", "_") for o in overrides)])
    where = root / tag / (f"split_{split}" if split is not None else "") / f"seed_{seed}"
    where.mkdir(parents=True, exist_ok=True)
    record = {
        "status": "completed",
        "error": None,
        "seed": seed,
        "choices": {"dataset": dataset, "model": "mlp", "loss": loss, "optimizer": "adam"},
        "overrides": [f"dataset={dataset}", f"loss={loss}", *overrides],
        "task": task,
        "metrics": metrics,
        "val_metrics": {},
        "wall_time_s": 1.0,
    }
    if split is not None:
        record["split"] = split
    if warnings is not None:
        record["warnings"] = warnings
    (where / "metrics.json").write_text(json.dumps(record))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


# -- the statistics themselves ------------------------------------------------------


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 8):
        p = rng.uniform(0, 0.2, size=m)
        p[: m // 2] = p[0]  # ties
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=1e-12)
    p = np.array([0.01, math.nan, 0.04, 0.03, math.nan])
    got = holm(p)
    assert np.isnan(got[[1, 4]]).all()  # untested comparisons are not in the family
    want = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    np.testing.assert_allclose(got[[0, 2, 3]], want)
    np.testing.assert_allclose(got[[0, 2, 3]], [0.03, 0.06, 0.06])  # by hand: 3p, max(2p, .), p


def test_t_and_wilcoxon_match_scipy():
    a = [0.71, 0.74, 0.69, 0.75, 0.72, 0.70, 0.77]
    b = [0.70, 0.71, 0.70, 0.72, 0.69, 0.69, 0.73]
    va, vb = dict(enumerate(a)), dict(enumerate(b))
    t = compare(va, vb, "balanced_accuracy", 0.05, test="t")
    assert t.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)
    w = compare(va, vb, "balanced_accuracy", 0.05, test="wilcoxon")
    assert w.p_value == pytest.approx(stats.wilcoxon(a, b).pvalue, rel=1e-12)
    d = np.subtract(a, b)
    assert t.d_z == pytest.approx(d.mean() / d.std(ddof=1))
    assert effect_size_dz(d) == t.d_z and t.delta == pytest.approx(d.mean())


@pytest.mark.parametrize("n", [3, 5, 10])
@pytest.mark.parametrize("alpha", [0.05, 0.05 / 7])
def test_minimum_detectable_effect_matches_statsmodels(n, alpha):
    want = TTestPower().solve_power(nobs=n, alpha=alpha, power=0.8, alternative="two-sided")
    assert detectable_d(n, alpha) == pytest.approx(want, rel=1e-6)
    assert min_detectable_effect(0.02, n, alpha) == pytest.approx(0.02 * want, rel=1e-6)


def test_wilcoxon_mde_uses_efficiency_and_knows_its_floor():
    # 5 pairs: the exact two-sided p is at least 2/32 = 0.0625 > 0.05, nothing is detectable.
    assert math.isinf(min_detectable_effect(1.0, 5, 0.05, test="wilcoxon"))
    want = TTestPower().solve_power(nobs=12 * 3 / math.pi, alpha=0.05, power=0.8)
    assert min_detectable_effect(1.0, 12, 0.05, test="wilcoxon") == pytest.approx(want, rel=1e-6)


def test_metric_direction_from_one_registry():
    from lossbench.evaluation import metrics  # imports torch: the training side's view

    assert metrics.GREATER_IS_BETTER is registry.GREATER_IS_BETTER
    assert metrics.DEFAULT_MONITOR is registry.DEFAULT_MONITOR
    # The names each task computes are the names the registry lists for it.
    computed = {
        "classification": {*metrics._CLASSIFICATION, *metrics._SHOT, *metrics._BINARY_ONLY},
        "regression": set(metrics._REGRESSION),
        "forecast": set(metrics._FORECAST),
    }
    for task, names in computed.items():
        assert set(registry.metrics_for(task)) == names, task
        assert registry.default_metric(task) in names
    for name in ("mase", "gmean_ae", "mse_few", "ece", "tdi", "val_loss", "val_temporal"):
        assert not registry.greater_is_better(name), name
    for name in ("balanced_accuracy", "recall_class_7", "val_macro_f1", "roc_auc", "my_score"):
        assert registry.greater_is_better(name), name
    # A worse (larger) MASE and G-mean of absolute errors are losses, clearly significant.
    base = {0: 1.00, 1: 1.02, 2: 0.98, 3: 1.01, 4: 0.99}
    worse = {s: v + 0.2 + 0.01 * s for s, v in base.items()}
    for name in ("mase", "gmean_ae"):
        c = compare(worse, base, name, 0.05)
        assert c.p_value < 0.05 and c.verdict == "loss", name
        assert compare(base, worse, name, 0.05).verdict == "win", name


def test_split_means_are_the_test_unit():
    # 3 splits x 2 seeds; split 2 seed 1 has no baseline partner (left out of its mean).
    mine = {(0, 0): 0.80, (0, 1): 0.82, (1, 0): 0.70, (1, 1): 0.74, (2, 0): 0.90, (2, 1): 0.91}
    base = {(0, 0): 0.78, (0, 1): 0.79, (1, 0): 0.69, (1, 1): 0.70, (2, 0): 0.86}
    pr = paired_differences(mine, base)
    assert pr.unit == "split" and pr.tested_over == "3 splits x 2 seeds"
    np.testing.assert_allclose(pr.diffs, [0.025, 0.025, 0.04])
    c = compare(mine, base, "accuracy", 0.05)
    assert c.n_pairs == 3 and c.unit == "split"
    assert c.p_value == pytest.approx(stats.ttest_1samp([0.025, 0.025, 0.04], 0).pvalue)
    one = paired_differences({(4, s): v for s, v in enumerate([1, 2, 3])}, {(4, 0): 0, (4, 2): 1})
    assert one.unit == "seed" and list(one.diffs) == [1.0, 2.0]
    assert one.tested_over == "2 seeds of one split"
    # Two splits: two units, too few for a test (not 2 x seeds pooled as independent).
    two = compare({(0, 0): 1, (0, 1): 2, (1, 0): 3}, {(0, 0): 0, (0, 1): 0, (1, 0): 1}, "mse", 0.05)
    assert two.verdict == "no test: 2 split(s) < 3"


# -- ranks across datasets ----------------------------------------------------------


def test_ranks_share_ties():
    np.testing.assert_array_equal(rank_rows(np.array([[0.9, 0.8, 0.8, 0.7]])), [[1, 2.5, 2.5, 4]])
    np.testing.assert_array_equal(rank_rows(np.array([[1.0, 1.0, 1.0]])), [[2, 2, 2]])


def test_friedman_matches_scipy_with_and_without_ties():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(6, 4)) + np.array([0.0, 0.3, 0.6, 0.9])
    scores[1, 2] = scores[1, 3]  # a tie
    for s in (scores, np.round(scores + 10, 6)):
        fr = friedman(rank_rows(s))
        ref = stats.friedmanchisquare(*s.T)
        assert fr.chi2 == pytest.approx(ref.statistic, rel=1e-12)
        assert fr.p_chi2 == pytest.approx(ref.pvalue, rel=1e-9)
        n, k = s.shape
        f = (n - 1) * fr.chi2 / (n * (k - 1) - fr.chi2)
        assert fr.f == pytest.approx(f) and (fr.df1, fr.df2) == (3, 15)
        assert fr.p_f == pytest.approx(stats.f.sf(f, 3, 15))
    # Demšar's formula by hand, no ties: mean ranks 1.25, 2, 2.75, 4 over N = 4.
    ranks = np.array([[1, 2, 3, 4], [2, 1, 3, 4], [1, 2, 3, 4], [1, 3, 2, 4]], dtype=float)
    fr = friedman(ranks)
    by_hand = 12 * 4 / (4 * 5) * (1.25**2 + 2**2 + 2.75**2 + 4**2 - 4 * 25 / 4)
    assert fr.chi2 == pytest.approx(by_hand) and by_hand == pytest.approx(9.9)


def test_nemenyi_critical_difference():
    table = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]  # Demšar 2006
    for k, q in zip(range(2, 11), table, strict=True):
        assert q_alpha(k) == pytest.approx(q, abs=1.5e-3), k
    # k = 4 configurations over N = 4 datasets: 2.569 * sqrt(4*5/24) = 2.3452
    assert nemenyi_cd(4, 4) == pytest.approx(2.569 * math.sqrt(20 / 24), abs=2e-3)
    assert nemenyi_cd(4, 4) == pytest.approx(2.3452, abs=2e-3)


def test_pairwise_wilcoxon_holm_and_cliques():
    base = np.linspace(0.5, 0.9, 8)
    noise = np.array([0.01, -0.02, 0.015, -0.005, 0.02, -0.01, 0.005, -0.015])
    scores = np.column_stack([base, base + noise, base + 0.1 + noise / 3])
    tests = pairwise_wilcoxon(scores)
    p = [stats.wilcoxon(scores[:, a] - scores[:, b]).pvalue for a, b in ((0, 1), (0, 2), (1, 2))]
    np.testing.assert_allclose([t.p for t in tests], p)
    np.testing.assert_allclose([t.p_holm for t in tests], multipletests(p, method="holm")[1])
    # Best first: 2, 1, 0; 2 differs from both, 1 and 0 do not differ: one bar {1, 0}.
    different = {frozenset((t.a, t.b)) for t in tests if t.p_holm < 0.05}
    assert different == {frozenset((0, 2)), frozenset((1, 2))}
    assert cliques([2, 1, 0], different) == [[1, 0]]
    assert cliques([0, 1, 2, 3], {frozenset((0, 3))}) == [[0, 1, 2], [1, 2, 3]]


# -- whole reports from synthetic records -------------------------------------------


def _family_sweep(root: Path, tau_overrides: bool = False) -> None:
    """One dataset, ce + 3 losses x 5 seeds; focal ~ ce, cb and la clearly better."""
    rng = np.random.default_rng(7)
    shift = {"ce": 0.0, "focal": 0.002, "class_balanced": 0.08, "logit_adjusted": 0.07}
    for seed in range(5):
        base = 0.6 + 0.02 * rng.normal()
        for loss, d in shift.items():
            value = base + d + 0.004 * rng.normal()
            _job(root, "lt", loss, seed, {"balanced_accuracy": value, "mase": 1 - value})
        if tau_overrides:
            v = base + 0.05 + 0.004 * rng.normal()
            _job(
                root,
                "lt",
                "ce",
                seed,
                {"balanced_accuracy": v, "mase": 1 - v},
                overrides=("eval.posthoc_tau=1.0",),
            )


def test_long_summary_holm_family_and_reading(tmp_path):
    _family_sweep(tmp_path / "sweep")
    report = make_report([tmp_path / "sweep"], tmp_path / "out", Options(plots=False))
    rows = _rows(tmp_path / "out" / "summary.csv")
    assert len(rows) == 4 * 2  # configuration x metric, long form
    for name in (
        "config",
        "metric",
        "headline",
        "mean",
        "std",
        "ci95",
        "n",
        "delta",
        "p_value",
        "p_holm",
        "family_size",
        "d_z",
        "mde",
        "verdict",
        "unit",
        "tested_over",
    ):
        assert name in rows[0], name
    for metric in ("balanced_accuracy", "mase"):
        fam = [r for r in rows if r["metric"] == metric and r["verdict"] != "baseline"]
        p = [float(r["p_value"]) for r in fam]
        want = multipletests(p, method="holm")[1]
        np.testing.assert_allclose([float(r["p_holm"]) for r in fam], want, rtol=1e-9)
        assert {r["family_size"] for r in fam} == {"3"}
        for r, ph in zip(fam, want, strict=True):
            d, better = float(r["delta"]), metric == "balanced_accuracy"
            expect = "n.s." if ph >= 0.05 else ("win" if (d > 0) == better else "loss")
            assert r["verdict"] == expect
            assert r["tested_over"] == "5 seeds of one split"
            sd = d / float(r["d_z"])
            mde = sd * TTestPower().solve_power(nobs=5, alpha=0.05 / 3, power=0.8)
            assert float(r["mde"]) == pytest.approx(abs(mde), rel=1e-6)
    heads = [r for r in rows if r["headline"] == "True"]
    assert [r["metric"] for r in heads] == ["balanced_accuracy"] * 4
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "Holm" in md and "p_holm" in md
    assert "Tested over 5 seeds of one split: seeds of one data split cover training noise" in md
    assert "- focal: no detectable difference from ce on balanced_accuracy (Δ " in md
    assert "smallest detectable Δ at n=5:" in md
    assert "- class_balanced: better than ce on balanced_accuracy" in md
    wide = report.summary.df.set_index("config")
    assert wide.loc["class_balanced", "verdict"] == "win"
    assert wide.loc["ce", "verdict"] == "baseline"


def test_correction_none_and_wilcoxon_options(tmp_path):
    _family_sweep(tmp_path / "sweep")
    plain = make_report(
        [tmp_path / "sweep"], tmp_path / "a", Options(plots=False, correction="none")
    )
    row = plain.summary.df.set_index("config").loc["focal"]
    assert "no correction" in (tmp_path / "a" / "summary.md").read_text()
    assert row["mde"] == pytest.approx(
        row["delta"] / row["d_z"] * TTestPower().solve_power(nobs=5, alpha=0.05, power=0.8)
    )
    w = make_report([tmp_path / "sweep"], tmp_path / "w", Options(plots=False, test="wilcoxon"))
    row = w.summary.df.set_index("config").loc["class_balanced"]
    assert row["verdict"] == "n.s."  # 5 pairs: exact p >= 0.0625, never significant
    assert row["p_value"] == pytest.approx(0.0625)
    assert any("cannot reach p < 0.05" in n for n in w.summary.notes)


def test_posthoc_adjustment_is_compared_with_plain_ce(tmp_path):
    _family_sweep(tmp_path / "sweep", tau_overrides=True)
    for baseline in ("auto", "eval.posthoc_tau=0.0", "eval.posthoc_tau=0"):
        report = make_report(
            [tmp_path / "sweep"], tmp_path / "out", Options(plots=False, baseline=baseline)
        )
        df = report.summary.df.set_index("config")
        assert "ce + post-hoc τ=1" in df.index, df.index
        row = df.loc["ce + post-hoc τ=1"]
        assert row["baseline"] == "ce" and row["verdict"] != "baseline", baseline
        assert df.loc["ce", "verdict"] == "baseline"
        assert row["n_pairs"] == 5 and math.isfinite(row["p_value"])
    # With the loss as baseline (auto), every loss is compared with plain ce.
    report = make_report([tmp_path / "sweep"], tmp_path / "out", Options(plots=False))
    assert set(report.summary.df["baseline"]) == {"ce"}
    assert (
        report.summary.df.loc[
            report.summary.df["config"] == "ce + post-hoc τ=1", "family_size"
        ].item()
        == 4
    )


def test_splits_pair_by_split_and_seed_and_are_no_group_key(tmp_path):
    rng = np.random.default_rng(2)
    mine, theirs = {}, {}
    for split in (10, 11, 12):
        level = 0.5 + 0.1 * rng.normal()
        for seed in range(3):
            for loss, d, store in (("ce", 0.0, theirs), ("focal", 0.01, mine)):
                v = level + d + 0.01 * rng.normal()
                store[(split, seed)] = v
                _job(tmp_path / "sweep", "lt", loss, seed, {"balanced_accuracy": v}, split=split)
    # An old record without `split` but with its dataset.seed override: split 12, seed 3.
    _job(
        tmp_path / "old", "lt", "ce", 3, {"balanced_accuracy": 0.5}, overrides=("dataset.seed=12",)
    )
    report = make_report(
        [tmp_path / "sweep", tmp_path / "old"], tmp_path / "out", Options(plots=False)
    )
    df = report.summary.df.set_index("config")
    assert list(df.index) == ["ce", "focal"]  # dataset.seed / split are not group keys
    assert df.loc["ce", "n"] == 10 and df.loc["ce", "n_splits"] == 3
    row = df.loc["focal"]
    assert row["unit"] == "split" and row["n_pairs"] == 3
    assert row["tested_over"] == "3 splits x 3 seeds"
    split_diffs = [np.mean([mine[(s, k)] - theirs[(s, k)] for k in range(3)]) for s in (10, 11, 12)]
    assert row["p_value"] == pytest.approx(stats.ttest_1samp(split_diffs, 0).pvalue)
    assert row["delta"] == pytest.approx(np.mean(split_diffs))
    # The CI of the mean is over split means too (2 degrees of freedom).
    means = [np.mean([mine[(s, k)] for k in range(3)]) for s in (10, 11, 12)]
    ci = stats.t.ppf(0.975, 2) * np.std(means, ddof=1) / math.sqrt(3)
    assert row["balanced_accuracy_ci95"] == pytest.approx(ci)
    results = _rows(tmp_path / "out" / "results.csv")
    assert sorted({r["split"] for r in results}) == ["10", "11", "12"]
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "Tested over 3 splits x 3 seeds: tests on per-split means cover data-split" in md


def test_record_warnings_become_counted_notes(tmp_path):
    for seed in range(5):
        warn = [f"probably undertrained: best epoch {38 + seed % 2} of 40; raise trainer.epochs"]
        _job(
            tmp_path / "sweep",
            "lt",
            "ce",
            seed,
            {"balanced_accuracy": 0.5 + seed / 100},
            warnings=warn if seed < 3 else [],
        )
        _job(tmp_path / "sweep", "lt", "focal", seed, {"balanced_accuracy": 0.5})
    report = make_report([tmp_path / "sweep"], tmp_path / "out", Options(plots=False))
    notes = [n for n in report.summary.notes if "undertrained" in n]
    assert notes == [
        "3 of 5 seeds of ce: probably undertrained: best epoch 38 of 40; raise trainer.epochs "
        "(numbers vary by job)"
    ]
    assert (
        "3 of 5 seeds of ce: probably undertrained" in (tmp_path / "out" / "summary.md").read_text()
    )


def _leaderboard_sweep(root: Path) -> dict[str, dict[str, float]]:
    """4 datasets x 4 losses x 5 seeds (+ 'extra' on two datasets only); returns the means."""
    rng = np.random.default_rng(11)
    effects = {"ce": 0.0, "focal": 0.01, "class_balanced": 0.06, "logit_adjusted": 0.05}
    means: dict[str, dict[str, float]] = {}
    for i, dataset in enumerate(["d1", "d2", "d3", "d4"]):
        means[dataset] = {}
        for loss, e in effects.items():
            if dataset == "d3" and loss == "focal":
                e = 0.07  # focal best on one dataset
            vals = [0.6 + 0.05 * i + e + 0.005 * rng.normal() for _ in range(5)]
            for seed, v in enumerate(vals):
                _job(root, dataset, loss, seed, {"balanced_accuracy": v, "accuracy": v})
            means[dataset][loss] = float(np.mean(vals))
        if i < 2:
            for seed in range(5):
                _job(root, dataset, "extra", seed, {"balanced_accuracy": 0.9, "accuracy": 0.9})
    return means


def test_leaderboard_over_four_datasets(tmp_path):
    means = _leaderboard_sweep(tmp_path / "sweep")
    out = tmp_path / "sweep"
    report = make_report([out], out, Options())
    lb = report.summary.leaderboard
    assert lb is not None and lb.n == 4 and lb.left_out == ["extra"]
    rows = {r["config"]: r for r in _rows(out / "leaderboard.csv")}
    losses = ["ce", "focal", "class_balanced", "logit_adjusted"]
    assert set(rows) == set(losses)
    scores = np.array([[means[d][c] for c in losses] for d in ["d1", "d2", "d3", "d4"]])
    by_hand = np.array([stats.rankdata(-row) for row in scores]).mean(axis=0)
    for c, r in zip(losses, by_hand, strict=True):
        assert float(rows[c]["mean_rank"]) == pytest.approx(r)
    assert rows["class_balanced"]["position"] == "1"
    assert (rows["class_balanced"]["wins"], rows["class_balanced"]["losses"]) == ("4", "0")
    assert rows["ce"]["baseline_on"] == "4"
    ref = stats.friedmanchisquare(*scores.T)
    assert lb.friedman.chi2 == pytest.approx(ref.statistic)
    assert lb.cd == pytest.approx(2.569 * math.sqrt(4 * 5 / 24), abs=2e-3)
    md = (out / "leaderboard.md").read_text()
    assert "almost no power" in md and "no verdict" in md and "extra" in md
    png = out / "plots" / "critical_difference.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png in report.plots
    console = Console(file=io.StringIO(), width=160, record=True)
    print_console(report.summary, report.summary.options, console)
    text = " ".join(console.export_text().split())
    assert text.index("dataset=d4") < text.index("leaderboard across 4 datasets")
    assert "almost no power" in text


def test_leaderboard_verdict_with_enough_datasets(tmp_path):
    rng = np.random.default_rng(5)
    for i in range(8):
        for loss, e in {"ce": 0.0, "focal": 0.002, "cb": 0.08}.items():
            for seed in range(3):
                v = 0.5 + 0.03 * i + e + 0.001 * rng.normal()
                _job(tmp_path / "s", f"d{i}", loss, seed, {"balanced_accuracy": v})
    report = make_report([tmp_path / "s"], tmp_path / "s", Options(plots=False))
    lb = report.summary.leaderboard
    assert lb.friedman.p_f < 0.05 and "the mean ranks differ" in lb.verdict
    assert "cb > ce" in lb.verdict and "cb > focal" in lb.verdict
    assert list(lb.table["config"])[0] == "cb"


def test_report_options_are_validated(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"report.alpha=1.5 must be a number in \(0, 1\)"):
        Options(alpha=1.5).validate()
    with pytest.raises(ValueError, match="report.test=z: choose one of t, wilcoxon"):
        Options(test="z").validate()
    _family_sweep(tmp_path / "sweep")
    for flags, key in (
        (["--alpha", "2"], "report.alpha=2.0"),
        (["--alpha", "x"], "report.alpha=x"),
        (["--test", "u"], "report.test=u"),
        (["--correction", "bonf"], "report.correction=bonf"),
    ):
        assert report_main([str(tmp_path / "sweep"), "--no-plots", *flags]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and key in err, err
    assert (
        report_main(
            [
                str(tmp_path / "sweep"),
                "--no-plots",
                "--test",
                "wilcoxon",
                "--alpha",
                "0.1",
                "--format",
                "csv",
            ]
        )
        == 0
    )


def test_sweep_with_bad_report_option_stops_before_training(tmp_path):
    from tests.conftest import run_cli

    proc = run_cli(
        [
            "run",
            "-m",
            "loss=ce",
            "report.alpha=2",
            "trainer.progress=false",
            "hydra.sweep.dir=sweep",
        ],
        tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and not (tmp_path / "sweep").exists()
    assert proc.stderr.strip() == "error: report.alpha=2 must be a number in (0, 1), e.g. 0.05"


@pytest.mark.parametrize(
    "bad",
    [
        "null",
        "[1, 2]",
        "{not json",
        '{"status": "completed", "metrics": {"balanced_accuracy": "high"}}',
        '{"status": "completed", "choices": "ce"}',
        '{"status": "done"}',
    ],
)
def test_report_skips_a_malformed_record_with_one_line(tmp_path, caplog, bad):
    """One bad ``metrics.json`` (or ``multirun.yaml``) never takes the report down."""
    for seed in range(3):
        for loss, value in (("ce", 0.70), ("focal", 0.72)):
            _job(tmp_path, "d", loss, seed, {"balanced_accuracy": value + 0.01 * seed})
    broken = tmp_path / "broken" / "metrics.json"
    broken.parent.mkdir()
    broken.write_text(bad)
    (tmp_path / "multirun.yaml").write_text("{{{ not yaml")
    with caplog.at_level("WARNING", logger="lossbench"):
        report = make_report([tmp_path], tmp_path, Options(plots=False))
    assert len(report.results.df) == 6  # the six good records, the bad one left out
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any(str(broken) in m for m in skipped)
    assert any("multirun.yaml" in m for m in skipped)
    assert (tmp_path / "report.html").is_file() and (tmp_path / "summary.csv").is_file()
