"""Shared helpers for the benchmark scripts: run commands, time them, summarise."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def lossbench_cmd(*args: str) -> list[str]:
    """``lossbench ARGS`` through this interpreter (the console script's entry point)."""
    return [sys.executable, "-m", "lossbench", *args]


def run_process_times(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one whole process; fails loudly if it fails.

    On a loaded machine the CPU time is the steadier of the two.
    """
    env = {**os.environ, "COLUMNS": "120"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def run_process(cmd: list[str], cwd: Path) -> float:
    """Wall time of one whole process; fails loudly if the command fails."""
    return run_process_times(cmd, cwd)[0]


def load() -> str:
    """The load averages (1, 5, 15 minutes) and core count, for the record."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def interleaved(ways: dict[str, Callable[[], float | None]], repeats: int) -> dict[str, float]:
    """Run each way once per round, rounds interleaved; the median time of each way.

    A way returns its own measured time, or None to be timed here as a whole.
    """
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, fn in ways.items():
            start = time.perf_counter()
            measured = fn()
            times[name].append(time.perf_counter() - start if measured is None else measured)
    return {name: statistics.median(t) for name, t in times.items()}


def report(med: dict[str, float], header: str) -> None:
    print(header)
    for name, t in med.items():
        print(f"  {name:<34} {t:8.2f} s")
