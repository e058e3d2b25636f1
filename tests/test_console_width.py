"""Console output in a pipe: the per-seed table is never cut at 80 columns, and report
tables carry one title each with rows named by what varies in them."""

from __future__ import annotations

from lossbench.console import print_seeds_summary
from lossbench.report.summary import Options
from lossbench.report.tables import print_console

METRICS = ["accuracy", "balanced_accuracy", "macro_f1", "average_precision", "recall_class_1"]


def test_per_seed_table_is_not_cut_in_a_pipe(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    records = [
        {
            "seed": s,
            "status": "completed",
            "choices": {"dataset": "imbalanced_multiclass", "loss": "logit_adjusted"},
            "metrics": {m: 0.5 + 0.01 * s for m in METRICS},
            "job_wall_time_s": 3.0,
        }
        for s in range(8)
    ]
    print_seeds_summary(records, "/a/rather/long/output/directory/2026-12-02/07-13-28-344791")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(map(len, lines)) > 80  # wider than rich's default for a pipe
    header = next(line for line in lines if "test metric" in line)
    assert all(f"seed {s}" in header for s in range(8)) and "mean ± std" in header
    assert "…" not in out
    for m in METRICS:  # every metric row whole: its name, 8 values and the mean ± std
        row = next(line for line in lines if f" {m} " in line)
        assert row.count(f"{0.5:.4f}") == 1 and f"{0.5 + 0.07:.4f}" in row and "±" in row
    assert "07-13-28-344791/seed_<seed>/" in lines[-1]  # the last line not wrapped


def test_report_tables_one_title_each_rows_without_dataset(tmp_path, capsys, monkeypatch):
    """Two datasets (one swept over two imbalance ratios): each table's title once, whole,
    and its rows named by the loss and what varies, never by ``dataset=``."""
    from lossbench.report.collect import load
    from lossbench.report.summary import summarize
    from tests.test_report_visuals import _classification_jobs, _forecast_jobs

    _classification_jobs(tmp_path / "sweep")
    _forecast_jobs(tmp_path / "sweep")
    summary = summarize(load([tmp_path / "sweep"]), Options())
    monkeypatch.delenv("COLUMNS", raising=False)
    print_console(summary, Options())
    out = capsys.readouterr().out
    titles = [line for line in out.splitlines() if line.startswith("dataset=")]
    assert len(titles) >= 2 and len(set(titles)) == len(titles)
    assert all(" · baseline " in t for t in titles)  # not wrapped onto a second line
    assert any(t.startswith("dataset=sine (forecast)") for t in titles)
    rows = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 6 + 3
    assert not any(r.startswith("dataset=") or " dataset=" in r for r in rows)
    assert rows.count("soft_dtw") == 1 and rows.count("mse") == 1
