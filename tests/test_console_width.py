"""Console output in a pipe: the per-seed table is never cut at 80 columns, and report
tables carry one title each with rows named by what varies in them."""

from __future__ import annotations

import pandas as pd

from lossbench.console import print_seeds_summary
from lossbench.report.summary import Options, Summary
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


def _summary() -> Summary:
    rows = []
    for dataset in ("digits_lt", "sine"):
        for loss, verdict in (("ce", "baseline"), ("focal", "n.s.")):
            rows.append(
                {
                    "dataset": dataset,
                    "model": "mlp",
                    "loss": loss,
                    "optimizer": "adam",
                    "config": f"{loss} dataset={dataset}",
                    "task": "classification",
                    "n_jobs": 3,
                    "n": 3,
                    "excluded": 0,
                    "accuracy_mean": 0.8,
                    "accuracy_std": 0.01,
                    "accuracy_ci95": 0.02,
                    "accuracy_n": 3,
                    "metric": "accuracy",
                    "baseline": f"ce dataset={dataset}",
                    "delta": float("nan") if verdict == "baseline" else 0.01,
                    "p_value": float("nan") if verdict == "baseline" else 0.3,
                    "n_pairs": 3,
                    "verdict": verdict,
                }
            )
    return Summary(pd.DataFrame(rows), ["accuracy"])


def test_report_tables_one_title_each_rows_without_dataset(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    print_console(_summary(), Options())
    out = capsys.readouterr().out
    for dataset in ("digits_lt", "sine"):
        assert out.count(f"dataset={dataset} (classification)") == 1
    assert out.count("· baseline ce\n") == 2  # the title names the baseline by its row name
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 4 and not any("dataset=" in r for r in rows)
    assert sum(r.split("│")[1].strip() == "focal" for r in rows) == 2
