"""The rich tables printed at the end of a run (one seed, or a batch of seeds)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table


def print_run_summary(record: dict[str, Any], out_dir: str) -> None:
    """One table: what ran, how it ended, and its test metrics."""
    choices = record.get("choices", {})
    title = " · ".join(f"{k}={v}" for k, v in choices.items()) + f" · seed={record.get('seed')}"
    table = Table(title=title, title_justify="left")
    table.add_column("test metric", style="cyan")
    table.add_column("value", justify="right")
    for name, value in (record.get("metrics") or {}).items():
        table.add_row(name, "-" if value is None else f"{value:.4f}")
    console = Console()
    console.print(table)
    status = record["status"]
    style = {"completed": "green", "diverged": "yellow"}.get(status, "red")
    extra = (
        f"best epoch {record['best_epoch']}/{record['epochs_run']}"
        if record.get("best_epoch")
        else ""
    )
    if record.get("diverged_epoch"):
        extra = f"diverged at epoch {record['diverged_epoch']}"
    console.print(
        f"[{style}]{status}[/] {extra} · {record['wall_time_s']:.1f}s · results in {out_dir}"
    )


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
    choices = records[0].get("choices", {})
    seeds = [r["seed"] for r in records]
    title = " · ".join(f"{k}={v}" for k, v in choices.items()) + f" · seeds={seeds}"
    table = Table(title=title, title_justify="left")
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
    console = Console()
    console.print(table)
    done = sum(r["status"] == "completed" for r in records)
    wall = records[0].get("job_wall_time_s", 0.0)
    style = "green" if done == len(records) else "yellow"
    console.print(
        f"[{style}]{done}/{len(records)} seeds completed[/] · {wall:.1f}s for all seeds"
        f" · results in {out_dir}/seed_<seed>/"
    )
