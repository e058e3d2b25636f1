"""The rich table printed at the end of a run."""

from __future__ import annotations

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
