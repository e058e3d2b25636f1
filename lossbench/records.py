"""What a job writes into its directory: ``metrics.json`` and ``history.csv``.

``metrics.json`` keys: ``status`` (completed | diverged | failed), ``error``,
``seed``, ``split`` (the ``dataset.seed`` its data split came from; null for a
dataset with a fixed split), ``choices`` (the dataset/model/loss/optimizer option
names), ``overrides`` (the command-line overrides of this job), ``task``,
``monitor``, ``best_epoch``, ``best_value`` (best validation monitor value),
``eligible_from_epoch`` (first epoch that could be chosen as best: a scheduled
loss's switch, else 1), ``epochs_run``, ``diverged_epoch``, ``metrics`` (test
metrics of the evaluated epoch), ``val_metrics``, ``warnings`` (one-line
strings, e.g. "probably undertrained: ..."; always present, often empty),
``wall_time_s``, ``versions`` (lossbench, torch, python, git commit of
lossbench's source where there is one), ``config_hash`` (identifies the resolved
job config, for resuming sweeps) and, for classification, ``class_counts``
(training samples per class). A member of a batched job (``seeds=N`` and/or
``splits=N``) writes its record to ``seed_<s>/`` (``seeds`` only) or
``split_<d>/seed_<s>/`` (``splits`` set), with the ``overrides`` and
``config_hash`` of the single run ``dataset.seed=<d> seed=<s>``, and adds
``seeds`` / ``splits`` (the batch, where set) and ``job_wall_time_s``; a failed
training adds ``traceback`` when the error was unexpected; a record copied by
resume adds ``resumed_from``. Forecast jobs also write ``predictions.npz``:
inputs, targets and predictions of the first test windows.
"""

from __future__ import annotations

import io
import platform
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from lossbench import __version__
from lossbench.io import atomic_write_bytes, write_csv, write_json

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
PREDICTIONS_FILE = "predictions.npz"
N_SAVED_WINDOWS = 8


@cache
def git_commit() -> str | None:
    """The commit of the lossbench source tree, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, Any]:
    import torch

    return {
        "lossbench": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "git_commit": git_commit(),
    }


def write_job(directory: Path, record: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Write ``history.csv`` first, then ``metrics.json`` (whose presence marks a finished job)."""
    if history:
        write_csv(directory / HISTORY_FILE, history)
    write_json(directory / METRICS_FILE, record)


def write_predictions(directory: Path, x: Any, y: Any, pred: Any) -> None:
    """Save the first test windows (``x``, ``y``, ``pred`` arrays) for forecast plots."""
    import numpy as np

    n = N_SAVED_WINDOWS
    arrays = {k: v[:n].detach().cpu().numpy() for k, v in (("x", x), ("y", y), ("pred", pred))}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(directory / PREDICTIONS_FILE, buf.getvalue())
