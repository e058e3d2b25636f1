"""Shared test helpers: run the CLI in a subprocess and read what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Small, fast settings for end-to-end runs.
FAST = ["trainer.epochs=3", "trainer.progress=false", "dataset.n_samples=600"]


def run_cli(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """``lossbench ARGS`` as a user types it, in ``cwd``."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "lossbench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def read_metrics(job_dir: Path) -> dict:
    return json.loads((job_dir / "metrics.json").read_text())


@pytest.fixture
def cli(tmp_path: Path):
    """Run the CLI inside a fresh temporary directory; returns (runner, directory)."""

    def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_cli(list(args), tmp_path, check=check)

    return _run
