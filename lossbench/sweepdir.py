"""Refuse a ``hydra.sweep.dir`` that already holds a *different* sweep.

Hydra numbers job directories ``0/``, ``1/``, ... in every sweep, so a second,
different sweep into the same directory overwrites the first one's results, and two
sweeps started together interleave. Before any job starts, :class:`SweepDirGuard`
claims the directory by creating ``.lossbench_sweep`` with ``O_EXCL`` (atomic, so of
two sweeps started together exactly one creates it) holding the sweep's fingerprint:
its command-line overrides, sweeper parameters and job config (minus the report
options and the progress bar, which change no result). The same sweep re-run into
the directory (resuming it) has the same fingerprint and goes on; a different one is
refused with one line and exit 2. A directory that holds job records but no claim
(an older lossbench, or another tool) is compared through its ``multirun.yaml``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lossbench.errors import EXIT_USAGE
from lossbench.records import METRICS_FILE

CLAIM_FILE = ".lossbench_sweep"
_IGNORED = (("report",), ("trainer", "progress"))


def fingerprint(config: DictConfig | dict[str, Any]) -> str:
    """SHA-256 (16 hex digits) of what makes a sweep this sweep (see module docstring)."""
    if isinstance(config, DictConfig):
        tree: dict[str, Any] = OmegaConf.to_container(config, resolve=False)  # type: ignore
    else:
        tree = json.loads(json.dumps(config, default=str))
    hydra = tree.pop("hydra", None) or {}
    for path in _IGNORED:
        node: Any = tree
        for part in path[:-1]:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None)
    overrides = (hydra.get("overrides") or {}).get("task") or []
    kept = sorted(o for o in overrides if not _ignored_override(o))
    params = ((hydra.get("sweeper") or {}).get("params")) or {}
    text = json.dumps(
        {"config": tree, "overrides": kept, "params": params}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _ignored_override(text: str) -> bool:
    key = text.lstrip("+~").split("=", 1)[0]
    return key.startswith(("report", "hydra")) or key == "trainer.progress"


def _has_records(directory: Path) -> bool:
    return any(directory.rglob(METRICS_FILE))


def check_sweep_dir(sweep_dir: Path, config: DictConfig | dict[str, Any]) -> str | None:
    """Claim ``sweep_dir`` for this sweep; a one-line reason if it holds another one."""
    mine = fingerprint(config)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    claim = sweep_dir / CLAIM_FILE
    if not claim.exists() and _has_records(sweep_dir):
        saved = sweep_dir / "multirun.yaml"
        theirs = None
        if saved.is_file():
            try:
                theirs = fingerprint(OmegaConf.load(saved))  # type: ignore[arg-type]
            except Exception:
                theirs = None
        if theirs != mine:
            return _refusal(sweep_dir)
    try:
        fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        try:
            theirs = claim.read_text().strip()
        except OSError:
            theirs = ""
        return None if theirs == mine else _refusal(sweep_dir)
    with os.fdopen(fd, "w") as fh:
        fh.write(mine + "\n")
    return None


def _refusal(sweep_dir: Path) -> str:
    return (
        f"hydra.sweep.dir={sweep_dir} already holds a different sweep (its jobs would be "
        "overwritten); choose another hydra.sweep.dir, or rerun that sweep's own command "
        "to resume it"
    )


class SweepDirGuard(Callback):
    """Hydra callback: refuse (exit 2) a sweep dir that holds a different sweep."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        reason = check_sweep_dir(sweep_dir, config)
        if reason is not None:
            print(f"error: {reason}", file=sys.stderr)
            # SystemExit passes Hydra's callback wrapper, which turns exceptions into warnings
            raise SystemExit(EXIT_USAGE)
