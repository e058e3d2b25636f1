"""What a job prints at its end: a table of test metrics (one seed, or a batch of
seeds and data splits), then each member's warnings (e.g. "probably undertrained").

Inside a sweep each job prints one line per member instead; the sweep's report is the table.
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


def _member(record: dict[str, Any], sep: str = "=") -> str:
    """``seed=3``, or ``split=1 · seed=3`` for a member of a job with ``splits``."""
    seed = f"seed{sep}{record.get('seed')}"
    return f"split{sep}{record.get('split')} · {seed}" if "splits" in record else seed


def print_job_line(records: list[dict[str, Any]]) -> None:
    """One plain line per member for a job inside a sweep: what ran, how it ended, its
    headline; then its warnings, one per line."""
    for r in records:
        log.info(f"{_what(r)} · {_member(r)} · {r['status']} {_headline(r)}".rstrip())
        for warning in r.get("warnings") or []:
            log.warning(f"  warning: {warning}")


def print_run_summary(record: dict[str, Any], out_dir: str) -> None:
    """One table: what ran, how it ended, and its test metrics."""
    table = Table()
    table.add_column("test metric", style="cyan")
    table.add_column("value", justify="right")
    for name, value in (record.get("metrics") or {}).items():
        table.add_row(name, "-" if value is None else f"{value:.4f}")
    show(log, Text(f"{_what(record)} · {_member(record)}", style="bold"))
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
    for warning in record.get("warnings") or []:
        show(log, Text.assemble(("warning:", "yellow"), f" {warning}"), logging.WARNING)


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


MAX_MEMBER_COLUMNS = 10  # more members: only the mean ± std column


def print_seeds_summary(records: list[dict[str, Any]], out_dir: str) -> None:
    """One table for a batched job (seeds, or splits x seeds): a column per member (up to
    ``MAX_MEMBER_COLUMNS``), then mean ± std over all members; then the warnings."""
    splits = "splits" in records[0]
    shown = records if len(records) <= MAX_MEMBER_COLUMNS else []
    table = Table()
    table.add_column("test metric", style="cyan")
    for r in shown:
        table.add_column(_member(r, " ").replace(" · ", " "), justify="right")
    table.add_column(
        f"mean ± std (n={len(records)})" if not shown else "mean ± std",
        justify="right",
        style="bold",
    )
    done = sum(r["status"] == "completed" for r in records)
    table.add_row("status", *[r["status"] for r in shown], "" if shown else f"{done} completed")
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r.get("metrics") or {}))
    for name in names:
        values = [(r.get("metrics") or {}).get(name) for r in records]
        cells = ["-" if v is None else f"{v:.4f}" for v in values]
        table.add_row(name, *(cells if shown else []), _mean_std(values))
    what = f"splits={records[0]['splits']} · " if splits else ""
    seeds = list(dict.fromkeys(r["seed"] for r in records))
    show(log, Text(f"{_what(records[0])} · {what}seeds={seeds}", style="bold"))
    show(log, table)
    wall = records[0].get("job_wall_time_s", 0.0)
    style = "green" if done == len(records) else "yellow"
    where = "split_<split>/seed_<seed>/" if splits else "seed_<seed>/"
    line = Text.assemble(
        (f"{done}/{len(records)} members completed", style),
        f" · {wall:.1f}s for all · results in {out_dir}/{where}",
    )
    show(log, line)
    for r in records:
        for warning in r.get("warnings") or []:
            show(
                log,
                Text.assemble(("warning:", "yellow"), f" {_member(r, ' ')}: {warning}"),
                logging.WARNING,
            )
