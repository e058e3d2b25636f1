"""Reports after a real sweep: rows, a mean and a p-value checked by hand, failures, the CLI."""

from __future__ import annotations

import csv
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats

from lossbench.report.stats import compare, describe, greater_is_better
from tests.conftest import FAST, REPO, run_cli

REPORT_FILES = ("results.csv", "summary.csv", "summary.md")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _headline(path: Path) -> list[dict[str, str]]:
    """The headline-metric rows of the long ``summary.csv`` (one per configuration)."""
    return [r for r in _rows(path) if r["headline"] == "True"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """One real sweep: 2 losses x 3 seeds, written to ``<tmp>/sweep``; the callback reports."""
    root = tmp_path_factory.mktemp("report")
    proc = run_cli(
        ["run", "-m", "loss=ce,asymmetric", "seed=0,1,2", *FAST, "hydra.sweep.dir=sweep"], root
    )
    (root / "stdout.txt").write_text(proc.stdout)
    return root / "sweep"


def _per_seed(sweep: Path, loss: str, metric: str) -> dict[int, float]:
    """Per-seed values straight from metrics.json, independently of the report code."""
    out = {}
    for f in sweep.rglob("metrics.json"):
        rec = json.loads(f.read_text())
        if rec["choices"]["loss"] == loss:
            out[rec["seed"]] = rec["metrics"][metric]
    return out


@pytest.mark.slow
def test_sweep_writes_results_and_summary(sweep):
    for name in REPORT_FILES:
        assert (sweep / name).exists(), name
    results = _rows(sweep / "results.csv")
    assert len(results) == 6
    assert sorted((r["loss"], int(r["seed"])) for r in results) == sorted(
        (loss, s) for loss in ("ce", "asymmetric") for s in (0, 1, 2)
    )
    for r in results:
        assert r["status"] == "completed" and r["error"] == ""
        assert r["dataset"] == "imbalanced" and r["optimizer"] == "adam"
        assert r["trainer.epochs"] == "3" and r["dataset.n_samples"] == "600"  # override columns
        assert float(r["wall_time_s"]) > 0 and len(r["config_hash"]) == 16
        # every metric of the files is a column, test metrics under their own names
        rec = json.loads((sweep / r["job"] / "metrics.json").read_text())
        for name, value in rec["metrics"].items():
            assert float(r[name]) == pytest.approx(value)
        assert float(r["val_balanced_accuracy"]) == pytest.approx(
            rec["val_metrics"]["balanced_accuracy"]
        )
    summary = _headline(sweep / "summary.csv")
    assert [s["config"] for s in summary] == ["ce", "asymmetric"]
    assert all(s["n"] == "3" and s["metric"] == "balanced_accuracy" for s in summary)
    # Long form: one row per configuration x metric, every metric of the files.
    assert len(_rows(sweep / "summary.csv")) == 2 * len(rec["metrics"])


@pytest.mark.slow
def test_mean_ci_and_p_value_by_hand(sweep):
    metric = "balanced_accuracy"
    ce, asym = _per_seed(sweep, "ce", metric), _per_seed(sweep, "asymmetric", metric)
    summary = {s["config"]: s for s in _headline(sweep / "summary.csv")}
    a = [asym[s] for s in (0, 1, 2)]
    b = [ce[s] for s in (0, 1, 2)]
    assert float(summary["asymmetric"]["mean"]) == pytest.approx(statistics.mean(a))
    assert float(summary["asymmetric"]["std"]) == pytest.approx(statistics.stdev(a))
    # 95% CI half-width: t_{0.975, 2} = 4.302652729911275 (table value) times s / sqrt(3)
    ci = 4.302652729911275 * statistics.stdev(a) / math.sqrt(3)
    assert float(summary["asymmetric"]["ci95"]) == pytest.approx(ci)
    # Paired t-test by hand: t = mean(d) / (sd(d) / sqrt(n)), two-sided p with n-1 = 2 dof,
    # whose t CDF has the closed form F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
    d = [x - y for x, y in zip(a, b, strict=True)]
    t = statistics.mean(d) / (statistics.stdev(d) / math.sqrt(3))
    p = 2 * (1 - (0.5 + abs(t) / (2 * math.sqrt(2 + t * t))))
    row = summary["asymmetric"]
    assert float(row["p_value"]) == pytest.approx(p, rel=1e-9)
    # One comparison with the baseline: Holm's family has one member, p_holm = p.
    assert row["family_size"] == "1" and float(row["p_holm"]) == pytest.approx(p, rel=1e-9)
    assert float(row["delta"]) == pytest.approx(statistics.mean(d))
    assert row["baseline"] == "ce" and row["metric"] == metric and row["n_pairs"] == "3"
    expected = ("win" if statistics.mean(d) > 0 else "loss") if p < 0.05 else "n.s."
    assert row["verdict"] == expected
    assert summary["ce"]["verdict"] == "baseline"


@pytest.mark.slow
def test_markdown_console_and_plots(sweep):
    md = (sweep / "summary.md").read_text()
    assert "paired t-test" in md and "baseline ce" in md
    assert "| asymmetric | 3 |" in md
    stdout = (sweep.parent / "stdout.txt").read_text()
    assert "Δ vs baseline" in stdout and "report:" in stdout
    for name in ("balanced_accuracy", "per_class_recall", "learning_curves"):
        png = sweep / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    rec = json.loads(next(sweep.rglob("metrics.json")).read_text())
    assert len(rec["class_counts"]) == 2 and rec["class_counts"][0] > rec["class_counts"][1]


@pytest.mark.slow
def test_report_command_reproduces_callback_files(sweep, tmp_path):
    before = {name: (sweep / name).read_text() for name in REPORT_FILES}
    for name in REPORT_FILES:
        (sweep / name).unlink()
    proc = run_cli(["report", str(sweep), "--format", "csv"], tmp_path)
    after = {name: (sweep / name).read_text() for name in REPORT_FILES}
    assert after == before
    assert proc.stdout == before["summary.csv"]
    md = run_cli(["report", str(sweep), "--format", "md", "--no-plots"], tmp_path).stdout
    assert md == before["summary.md"]


@pytest.mark.slow
def test_report_merges_sweeps_and_options(sweep, tmp_path):
    proc = run_cli(
        ["report", str(sweep), str(sweep / "0"), "--out", "merged", "--baseline", "asymmetric"],
        tmp_path,
    )
    assert "baseline asymmetric" in proc.stdout
    rows = _rows(tmp_path / "merged" / "results.csv")
    assert len(rows) == 6  # a job found twice counts once
    summary = {s["config"]: s for s in _headline(tmp_path / "merged" / "summary.csv")}
    assert summary["asymmetric"]["verdict"] == "baseline"
    bad = run_cli(["report", str(sweep), "--metric", "nope"], tmp_path, check=False)
    assert bad.returncode == 2 and "report.metric=nope" in bad.stderr
    missing = run_cli(["report", str(tmp_path / "nothing")], tmp_path, check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr


@pytest.mark.slow
def test_report_command_does_not_import_torch(sweep):
    code = (
        "import sys\n"
        "from lossbench.cli import main\n"
        f"main(['report', {str(sweep)!r}, '--format', 'md', '--out', {str(sweep)!r}])\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.slow
def test_failed_job_is_listed_and_excluded(tmp_path):
    proc = run_cli(
        [
            "run",
            "-m",
            "loss=asymmetric",
            "loss.class_weights=[1,2,3],[1,2],[1,4]",
            "seed=0,1,2",
            *FAST,
            "hydra.sweep.dir=sweep",
            "report.baseline='loss.class_weights=[1,2]'",
        ],
        tmp_path,
    )
    assert proc.returncode == 0
    results = _rows(tmp_path / "sweep" / "results.csv")
    assert len(results) == 9
    failed = [r for r in results if r["status"] == "failed"]
    assert len(failed) == 3 and all("3 values" in r["error"] for r in failed)
    rows = _rows(tmp_path / "sweep" / "summary.csv")
    summary = {s["loss.class_weights"]: s for s in rows if s["headline"] == "True"}
    assert summary["[1,2,3]"]["n"] == "0" and summary["[1,2,3]"]["excluded"] == "3"
    assert summary["[1,2]"]["verdict"] == "baseline"
    assert summary["[1,4]"]["n_pairs"] == "3" and summary["[1,4]"]["p_value"] != ""
    md = (tmp_path / "sweep" / "summary.md").read_text()
    assert md.count("excluded from statistics") == 3 and "3 values" in md
    assert "note: excluded from statistics" in proc.stdout
    assert (tmp_path / "sweep" / "plots" / "balanced_accuracy_vs_loss.class_weights.png").exists()
    # `lossbench report` takes the sweep's own report options (here its baseline).
    again = run_cli(["report", "sweep", "--format", "md", "--no-plots"], tmp_path).stdout
    assert again == md


def test_stats_fewer_than_three_seeds_and_direction():
    c = compare({0: 0.8, 1: 0.9}, {0: 0.7, 1: 0.6}, "balanced_accuracy", 0.05)
    assert (
        c.verdict.startswith("no test") and math.isnan(c.p_value) and c.delta == pytest.approx(0.2)
    )
    same = compare({0: 1.0, 1: 2.0, 2: 3.0}, {0: 1.0, 1: 2.0, 2: 3.0}, "mse", 0.05)
    assert same.verdict == "no test: identical on every seed"
    # Lower MSE on every seed, clearly: a significant win for an error metric.
    win = compare({0: 1.0, 1: 1.1, 2: 0.9, 3: 1.05}, {0: 2.0, 1: 2.2, 2: 2.1, 3: 2.0}, "mse", 0.05)
    ref = stats.ttest_rel([1.0, 1.1, 0.9, 1.05], [2.0, 2.2, 2.1, 2.0])
    assert win.verdict == "win" and win.p_value == pytest.approx(ref.pvalue)
    # Seeds pair by number, not by position: seed 5 has no partner.
    c = compare({0: 1.0, 1: 2.0, 5: 9.0}, {0: 0.5, 1: 1.0, 2: 7.0}, "accuracy", 0.05)
    assert c.n_pairs == 2 and c.delta == pytest.approx(0.75)
    assert greater_is_better("recall_class_3") and not greater_is_better("mae_few")
    d = describe([1.0, 2.0, float("nan"), 3.0])
    assert (d.mean, d.std, d.n) == (2.0, 1.0, 3)


def _fake_job(directory: Path, loss: str, seed: int, mse: float, horizon: int = 4) -> None:
    """A forecast job as the runner writes it: metrics.json, history.csv, predictions.npz."""
    import numpy as np

    directory.mkdir(parents=True)
    record = {
        "status": "completed",
        "error": None,
        "seed": seed,
        "choices": {"dataset": "sine", "model": "mlp", "loss": loss, "optimizer": "adam"},
        "overrides": [f"loss={loss}", "seeds=3"],
        "task": "forecast",
        "metrics": {"mse": mse, "dtw": 2 * mse},
        "val_metrics": {"mse": mse},
        "wall_time_s": 1.0,
    }
    (directory / "metrics.json").write_text(json.dumps(record))
    (directory / "history.csv").write_text(f"epoch,train_loss,val_mse\n1,{mse + 1},{mse}\n")
    rng = np.random.default_rng(seed)
    np.savez(
        directory / "predictions.npz",
        x=rng.normal(size=(8, 10, 1)),
        y=rng.normal(size=(8, horizon)),
        pred=rng.normal(size=(8, horizon)),
    )


def test_seed_subdirectories_count_as_jobs_and_forecast_plots(tmp_path):
    """One job dir holding seed_<s>/metrics.json per seed counts exactly like separate jobs."""
    from lossbench.report import Options, make_report

    mse = {"mse": [1.0, 1.2, 0.9], "dilate": [0.8, 0.9, 0.85]}
    for j, (loss, values) in enumerate(mse.items()):
        for seed, v in enumerate(values):
            _fake_job(tmp_path / "sweep" / str(j) / f"seed_{seed}", loss, seed, v)
    report = make_report([tmp_path / "sweep"], tmp_path / "sweep", Options())
    assert len(report.results.df) == 6
    assert list(report.results.df["seeds"].unique()) == ["3"]
    row = report.summary.df.set_index("config").loc["dilate"]
    assert row["baseline"] == "mse" and row["metric"] == "mse"  # forecast default: MSE
    ref = stats.ttest_rel(mse["dilate"], mse["mse"])
    assert row["p_value"] == pytest.approx(ref.pvalue)
    assert row["verdict"] == ("win" if ref.pvalue < 0.05 else "n.s.")  # lower MSE is better
    assert row["dtw_mean"] == pytest.approx(2 * statistics.mean(mse["dilate"]))
    names = {p.name for p in report.plots}
    assert {"mse.png", "forecast_windows.png", "learning_curves.png"} <= names


def test_report_when_every_job_failed(tmp_path):
    from lossbench.report import Options, make_report

    job = tmp_path / "sweep" / "0"
    job.mkdir(parents=True)
    record = {"status": "failed", "error": "boom", "seed": 0, "choices": {"loss": "ce"}}
    (job / "metrics.json").write_text(json.dumps(record))
    report = make_report([tmp_path / "sweep"], tmp_path / "sweep", Options())
    assert report.summary.df["n"].tolist() == [0]
    md = (tmp_path / "sweep" / "summary.md").read_text()
    assert "excluded from statistics" in md and "boom" in md


def test_override_values_are_canonical():
    from lossbench.report.collect import is_group_key, parse_override

    assert parse_override("trainer.progress=false") == parse_override("trainer.progress=False")
    assert parse_override("loss.class_weights=[1.0, 2]") == ("loss.class_weights", "[1.0,2]")
    assert parse_override("+w=9.5") == ("w", "9.5")
    assert not any(map(is_group_key, ["seed", "hydra/launcher", "hydra.sweep.dir", "report.x"]))
    assert is_group_key("loss.gamma") and is_group_key("experiment")
