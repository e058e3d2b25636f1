"""What a job prints at its end: a table of test metrics (one seed, or a batch of seeds).

Inside a sweep each job prints one line instead; the sweep's report is the table.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from rich.table import Table
from rich.text import Text

from lossbench.log import show

log = logging.getLogger(__name__)


def _what(record: dict[str, Any]) -> str:
    return " · ".join(f"{k}={v}" for k, v in record.get("choices", {}).items())


def _headline(record: dict[str, Any]) -> str:
    """The monitored metric's test value, e.g. ``balanced_accuracy 0.7653``."""
    name = record.get("monitor")
    value = (record.get("metrics") or {}).get(name)
    return f"{name} {value:.4f}" if value is not None else ""


def print_job_line(records: list[dict[str, Any]]) -> None:
    """One plain line per seed for a job inside a sweep: what ran, how it ended, its headline."""
    for r in records:
        log.info(f"{_what(r)} · seed={r['seed']} · {r['status']} {_headline(r)}".rstrip())


def print_run_summary(record: dict[str, Any], out_dir: str) -> None:
    """One table: what ran, how it ended, and its test metrics."""
    table = Table()
    table.add_column("test metric", style="cyan")
    table.add_column("value", justify="right")
    for name, value in (record.get("metrics") or {}).items():
        table.add_row(name, "-" if value is None else f"{value:.4f}")
    show(log, Text(f"{_what(record)} · seed={record.get('seed')}", style="bold"))
    show(log, table)
    status = record["status"]
    style = {"completed": "green", "diverged": "yellow"}.get(status, "red")
    extra = (
        f"best epoch {record['best_epoch']}/{record['epochs_run']}"
        if record.get("best_epoch")
        else ""
    )
    if record.get("diverged_epoch"):
        extra = f"diverged at epoch {record['diverged_epoch']}"
    line = Text.assemble(
        (status, style), f" {extra} · {record['wall_time_s']:.1f}s · results in {out_dir}"
    )
    show(log, line)


def _mean_std(values: list[float]) -> str:
    """``mean ± sample std`` of the finite values (``-`` if none)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return "-"
    mean = sum(vals) / len(vals)
    if len(vals) == 1:
        return f"{mean:.4f}"
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return f"{mean:.4f} ± {std:.4f}"


def print_seeds_summary(records: list[dict[str, Any]], out_dir: str) -> None:
    """One table for a batched multi-seed job: a column per seed, then mean ± std."""
    seeds = [r["seed"] for r in records]
    table = Table()
    table.add_column("test metric", style="cyan")
    for seed in seeds:
        table.add_column(f"seed {seed}", justify="right")
    table.add_column("mean ± std", justify="right", style="bold")
    table.add_row("status", *[r["status"] for r in records], "")
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r.get("metrics") or {}))
    for name in names:
        values = [(r.get("metrics") or {}).get(name) for r in records]
        cells = ["-" if v is None else f"{v:.4f}" for v in values]
        table.add_row(name, *cells, _mean_std(values))
    show(log, Text(f"{_what(records[0])} · seeds={seeds}", style="bold"))
    show(log, table)
    done = sum(r["status"] == "completed" for r in records)
    wall = records[0].get("job_wall_time_s", 0.0)
    style = "green" if done == len(records) else "yellow"
    line = Text.assemble(
        (f"{done}/{len(records)} seeds completed", style),
        f" · {wall:.1f}s for all seeds · results in {out_dir}/seed_<seed>/",
    )
    show(log, line)
