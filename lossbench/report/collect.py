"""Read finished jobs from disk: every ``metrics.json`` under the given paths is one row.

Reading files, not launcher return values, is what makes the report independent of
the launcher (basic, joblib, submitit, Ray) and lets ``lossbench report`` rebuild
it later or merge several sweeps. A job directory may hold one ``metrics.json`` or
one per seed (``seed_<s>/metrics.json``); each file counts as one job.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.core.override_parser.overrides_parser import OverridesParser

from lossbench.records import METRICS_FILE
from lossbench.report.dedupe import dedupe

log = logging.getLogger(__name__)

CHOICE_COLUMNS = ["dataset", "model", "loss", "optimizer", "sampler"]
# A choice that records written before its group existed lack: what they trained with.
CHOICE_DEFAULTS = {"sampler": "none"}
# Hydra's own override keys (launcher, sweep dir, ...) say how jobs ran, not what:
# they are not columns. The replicate axes (the training seed and the data split,
# ``dataset.seed``), the batching options ``seeds``/``splits``, report options and the
# progress bar are columns of results.csv but do not identify a configuration.
_HYDRA_KEYS = re.compile(r"^hydra([./].*)?$")
_NOT_GROUP_KEYS = re.compile(
    r"^(seed|seeds|split|splits|dataset\.seed|report(\..*)?|trainer\.progress)$"
)
_TAIL_COLUMNS = ["wall_time_s", "epochs_run", "best_epoch", "config_hash", "resumed_from"]


@dataclass
class Results:
    """The per-job table plus what its columns mean."""

    df: pd.DataFrame  # one row per job file
    group_keys: list[str]  # choices + identifying overrides: everything but seed and split
    metrics: list[str]  # test-metric names, as found in the files
    class_counts: dict[str, list[int]]  # dataset name -> training class counts
    dirs: list[Path]  # the job directory of each row (history.csv, predictions.npz)
    warnings: list[list[str]] = field(default_factory=list)  # each row's record warnings

    @property
    def ok(self) -> pd.Series:
        """Jobs that count in statistics: completed ones."""
        return self.df["status"] == "completed"


def find_job_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every ``metrics.json`` under ``paths`` (a path may itself be a job directory)."""
    found: set[Path] = set()
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or directory")
        if p.is_file():
            found.add(p.resolve())
        else:
            found.update(f.resolve() for f in p.rglob(METRICS_FILE) if f.is_file())
    return sorted(found, key=_natural_key)


def _natural_key(path: Path) -> list[Any]:
    """Sort ``2`` before ``10`` in job directory names."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def parse_override(text: str) -> tuple[str, str]:
    """``+loss.gamma=2`` -> (``loss.gamma``, ``2``), the value in Hydra's canonical form
    (``false`` and ``False``, ``[1.0, 2]`` and ``[1.0,2]`` read the same), so runs
    launched differently (single run, sweep, preset) group and merge correctly."""
    try:
        ov = _parser().parse_override(text)
    except Exception:  # not Hydra syntax (hand-written record): keep the text as it is
        key, _, value = text.partition("=")
        return key.lstrip("+~"), value
    if ov.value_type is None:  # ~key: a deletion
        return ov.key_or_group, "~"
    if ov.is_sweep_override():
        return ov.key_or_group, str(ov.value())
    return ov.key_or_group, ov.get_value_element_as_str()


@cache
def _parser() -> OverridesParser:
    return OverridesParser.create()


def is_group_key(key: str) -> bool:
    """True for override keys that identify a configuration (not seed, hydra.*, report.*)."""
    return not (_HYDRA_KEYS.match(key) or _NOT_GROUP_KEYS.match(key))


def load(paths: Iterable[str | Path], relative_to: Path | None = None) -> Results:
    """Read every job under ``paths`` into one :class:`Results` table.

    Columns: ``job`` (its directory, relative to ``relative_to`` when inside it),
    dataset/model/loss/optimizer, seed, split (the record's ``split``; for older
    records their ``dataset.seed`` override, else empty: one split), one column per
    override, status, error,
    task, every test metric under its own name, validation metrics as
    ``val_<name>``, then wall time, epochs, the config hash and ``warnings`` (the
    record's warnings joined by "; "). Metric names come
    from the files, so a new metric appears without any change here.
    """
    files = find_job_files(paths)
    if not files:
        raise FileNotFoundError(
            f"no {METRICS_FILE} under {', '.join(map(str, paths))}: nothing to report"
        )
    base = relative_to.resolve() if relative_to is not None else None
    files, records = _readable(files)
    if not files:
        raise FileNotFoundError(
            f"no readable {METRICS_FILE} under {', '.join(map(str, paths))}: nothing to report"
        )
    # A resumed sweep holds copies of reused records: count each replicate once.
    files, records, _ = dedupe(files, records)
    overrides: dict[str, None] = {}
    metrics: dict[str, None] = {}
    val_metrics: dict[str, None] = {}
    class_counts: dict[str, list[int]] = {}
    rows = []
    warnings: list[list[str]] = []
    for f, rec in zip(files, records, strict=True):
        choices = rec.get("choices") or {}
        row: dict[str, Any] = {"job": _job_name(f.parent, base)}
        row.update({c: choices.get(c) or CHOICE_DEFAULTS.get(c) for c in CHOICE_COLUMNS})
        row["seed"] = rec.get("seed")
        for text in rec.get("overrides") or []:
            key, value = parse_override(text)
            if key not in CHOICE_COLUMNS and key != "seed" and not _HYDRA_KEYS.match(key):
                row[key] = value
                overrides[key] = None
        row["split"] = _split(rec.get("split"), row.get("dataset.seed"))
        row.update(status=rec.get("status"), error=rec.get("error"), task=rec.get("task"))
        test = rec.get("metrics") or {}
        val = rec.get("val_metrics") or {}
        metrics.update(dict.fromkeys(test))
        val_metrics.update(dict.fromkeys(val))
        row.update(test)
        row.update({f"val_{k}": v for k, v in val.items()})
        row.update({k: rec.get(k) for k in _TAIL_COLUMNS})
        warnings.append([str(w) for w in rec.get("warnings") or []])
        row["warnings"] = "; ".join(warnings[-1])
        if rec.get("class_counts") and row["dataset"]:
            class_counts[row["dataset"]] = list(rec["class_counts"])
        rows.append(row)
    columns = (
        ["job", *CHOICE_COLUMNS, "seed", "split", *overrides, "status", "error", "task"]
        + list(metrics)
        + [f"val_{m}" for m in val_metrics]
        + [*_TAIL_COLUMNS, "warnings"]
    )
    df = pd.DataFrame(rows).reindex(columns=columns)
    df["split"] = pd.array(df["split"].tolist(), dtype="Int64")
    for key in [*CHOICE_COLUMNS, *overrides]:
        df[key] = df[key].fillna("").astype(str)
    dirs = [f.parent for f in files]
    keys = [*CHOICE_COLUMNS, *(k for k in overrides if is_group_key(k))]
    return Results(df, keys, list(metrics), class_counts, dirs, warnings)


_STATUSES = ("completed", "diverged", "failed")
_MAX_SKIP_LINES = 5


def record_problem(rec: Any) -> str | None:
    """Why ``rec`` (a parsed ``metrics.json``) is not a record the report can use, or None."""
    if not isinstance(rec, dict):
        return f"holds {type(rec).__name__ if rec is not None else 'null'}, not a record"
    if rec.get("status") not in _STATUSES:
        return f"status {rec.get('status')!r} is not one of {', '.join(_STATUSES)}"
    kinds = {"choices": dict, "overrides": list, "metrics": dict, "val_metrics": dict}
    kinds.update(warnings=list, class_counts=list)
    for key, kind in kinds.items():
        if rec.get(key) is not None and not isinstance(rec[key], kind):
            return f"{key} is a {type(rec[key]).__name__}, not a {kind.__name__}"
    for key in ("metrics", "val_metrics"):
        for name, value in (rec.get(key) or {}).items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if value is not None and not number:
                return f"{key}.{name} = {value!r} is not a number"
    if any(not isinstance(o, str) for o in rec.get("overrides") or []):
        return "overrides holds a non-string"
    return None


def _readable(files: list[Path]) -> tuple[list[Path], list[dict[str, Any]]]:
    """The files that hold a usable record, with their records; every other file is
    skipped with a one-line warning (the report never dies on one bad file)."""
    kept, records, skipped = [], [], []
    for f in files:
        try:
            rec = json.loads(f.read_bytes())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            skipped.append(f"{f}: unreadable ({exc.__class__.__name__}: {exc})")
            continue
        problem = record_problem(rec)
        if problem is not None:
            skipped.append(f"{f}: {problem}")
            continue
        kept.append(f)
        records.append(rec)
    for line in skipped[:_MAX_SKIP_LINES]:
        log.warning(f"report: skipped {line}")
    if len(skipped) > _MAX_SKIP_LINES:
        log.warning(f"report: skipped {len(skipped) - _MAX_SKIP_LINES} more malformed files")
    return kept, records


def _split(recorded: Any, dataset_seed: str | None) -> int | None:
    """The data split of a record: its ``split``, else its ``dataset.seed`` override."""
    for value in (recorded, dataset_seed):
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return None


def _job_name(job_dir: Path, base: Path | None) -> str:
    if base is not None and job_dir.is_relative_to(base):
        return str(job_dir.relative_to(base)) or "."
    return str(job_dir)
