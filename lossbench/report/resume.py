"""Resume a sweep: a job whose exact configuration already completed is not trained again.

A job is identified by ``config_hash``: the SHA-256 of its resolved config (the
``hydra`` node is not part of a job's config; the ``report`` block and
``trainer.progress`` are dropped because they do not change the result). The same
hash means the same data, model, loss, optimizer, budget and seed, run by the same
lossbench version and source and the same source of the user's modules the config
names (:func:`lossbench.provenance.code_identity`), hence the same metrics (training is
deterministic for a seed).

Where earlier results are looked for: the job's own sweep directory (a sweep
re-run into a fixed ``hydra.sweep.dir``) and every directory in
``report.resume_from`` (default ``outputs/multirun``, where sweeps land with the
default timestamped directory). So re-running the same command continues an
interrupted sweep: the new sweep directory gets a copy of each completed job's
files (``resumed_from`` names the source) and only the missing jobs train.
``report.resume=false`` trains everything again (do that after changing code).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.io import write_json
from lossbench.provenance import code_identity

METRICS_FILE = "metrics.json"
COPIED_FILES = ("history.csv", "predictions.npz")
_IGNORED = (("report",), ("trainer", "progress"))


def config_hash(cfg: DictConfig) -> str:
    """SHA-256 (first 16 hex digits) of the resolved job config, minus non-result keys."""
    container: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    container.pop("hydra", None)
    for path in _IGNORED:
        node = container
        for part in path[:-1]:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None)
    # The code that produced a result is part of its identity: results from another
    # lossbench version or commit are not reused.
    # The user's own modules named by ``_target_`` keys count too (their source hash).
    container["_code"] = code_identity(cfg)
    text = json.dumps(container, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _matches(metrics_file: Path, digest: str) -> bool:
    try:
        rec = json.loads(metrics_file.read_text())
    except (OSError, ValueError):
        return False
    return rec.get("config_hash") == digest and rec.get("status") == "completed"


def find_completed(digest: str, roots: Iterable[Path], own: Path) -> Path | None:
    """A completed job directory whose ``config_hash`` is ``digest``: ``own`` first
    (a sweep re-run into the same directory), then anything under ``roots``."""
    if _matches(own / METRICS_FILE, digest):
        return own
    for root in roots:
        if root.is_dir():
            for f in sorted(root.rglob(METRICS_FILE)):
                if _matches(f, digest):
                    return f.parent
    return None


def reuse_completed(
    cfg: DictConfig, digest: str, out_dir: Path, sweep_dir: Path, overrides: list[str]
) -> dict[str, Any] | None:
    """Copy an earlier completed job with the same hash into ``out_dir``; its record or None.

    The copy keeps the earlier metrics and timing and takes this job's overrides (the
    same config may have been reached by a different command line).
    """
    node = OmegaConf.select(cfg, "report", default=None)
    if node is not None and not node.get("resume", True):
        return None
    roots = [sweep_dir, *(Path(p) for p in (node.get("resume_from") or []) if node is not None)]
    source = find_completed(digest, roots, out_dir)
    if source is None:
        return None
    record = json.loads((source / METRICS_FILE).read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in COPIED_FILES:
        if source.resolve() != out_dir.resolve() and (source / name).exists():
            shutil.copy2(source / name, out_dir / name)
    record.update(
        overrides=list(overrides), resumed_from=record.get("resumed_from") or str(source.resolve())
    )
    write_json(out_dir / METRICS_FILE, record)
    return record
