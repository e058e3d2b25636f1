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
``wall_time_s``, ``versions`` (lossbench's version, source hash and own git commit
where it is a checkout, torch, python, the user's repository state ``user_repo`` and
``user_sources``: the source hash of each user module a ``_target_`` names; see
:mod:`lossbench.provenance`), ``config_hash`` (identifies the resolved
job config, for resuming sweeps) and, for classification, ``class_counts``
(training samples per class) and ``class_names`` (the original label of each class
index: ``recall_class_<i>`` and ``class_counts[i]`` are those of ``class_names[i]``).
A member of a batched job (``seeds=N`` and/or ``splits=N``) writes its record to
``seed_<s>/`` (``seeds`` only) or ``split_<d>/seed_<s>/`` (``splits`` set), with the
``overrides`` and ``config_hash`` of the single run ``dataset.seed=<d> seed=<s>``, and adds
``seeds`` / ``splits`` (the batch, where set) and ``job_wall_time_s``; a failed
training adds ``traceback`` when the error was unexpected; a record copied by
resume adds ``resumed_from``. Forecast jobs also write ``predictions.npz``:
inputs, targets and predictions of the first test windows.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from lossbench.io import atomic_write_bytes, write_csv, write_json
from lossbench.provenance import lossbench_git_commit
from lossbench.provenance import versions as provenance_versions

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
PREDICTIONS_FILE = "predictions.npz"
N_SAVED_WINDOWS = 8


def git_commit() -> str | None:
    """The commit of lossbench's own checkout (None for an installed package)."""
    return lossbench_git_commit()


def versions(cfg: Any = None) -> dict[str, Any]:
    """lossbench (version, source hash, own commit), torch, python; the user's repository
    and the source hashes of the user's modules the config names, separately."""
    return provenance_versions(cfg)


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
