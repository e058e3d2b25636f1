"""Resume a sweep: a job whose exact configuration already completed is not trained again.

A job is identified by ``config_hash``: the SHA-256 of its resolved config (the
``hydra`` node is not part of a job's config; the ``report`` block and
``trainer.progress`` are dropped because they do not change the result). The same
hash means the same data, model, loss, optimizer, budget and seed, run by the same
lossbench version and git commit, hence the same metrics (training is
deterministic for a seed).

Where earlier results are looked for: the job's own directory, then its sweep
directory (a sweep re-run into a fixed ``hydra.sweep.dir``), then every directory
in ``report.resume_from`` (default ``outputs/multirun``, where sweeps land with the
default timestamped directory). So re-running the same command continues an
interrupted sweep: the new sweep directory gets a copy of each completed job's
files (``resumed_from`` names the source) and only the missing jobs train.
``report.resume=false`` trains everything again (do that after changing code).

Cost: one :class:`ResumeIndex` (``config_hash`` -> completed job directories) is
built per sweep and process, on the first lookup, and every seed of every job is
looked up in it; records this process writes are added as they complete. Parsed
``metrics.json`` files are cached per ``resume_from`` root in ``INDEX_FILE``, keyed
by path, size and modification time, so a later sweep re-reads only new or changed
files (a directory walk with one ``stat`` per record, ~20x cheaper than parsing).
A cache entry is used only when the file's size and mtime still match, and every
hit is re-read and re-checked before it is reused, so a stale or hand-edited cache
can cost a retraining but never a wrong result. A ``metrics.json`` that cannot be
read or is not a record (``null``, a list, broken JSON) is skipped with a one-line
warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench import __version__
from lossbench.io import write_json
from lossbench.records import git_commit

METRICS_FILE = "metrics.json"
INDEX_FILE = ".lossbench-resume-index.json"
INDEX_VERSION = 1
COPIED_FILES = ("history.csv", "predictions.npz")
_IGNORED = (("report",), ("trainer", "progress"))
# Directories that never hold records: Hydra's saved configs and report plots.
_SKIP_DIRS = frozenset({".hydra", "plots", "__pycache__"})
_MAX_WARNINGS = 5


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
    container["_code"] = {"lossbench": __version__, "git_commit": git_commit()}
    text = json.dumps(container, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_record(path: Path) -> dict[str, Any]:
    """The record in ``path``; ``ValueError`` (with the reason) if it is not a JSON object."""
    try:
        rec = json.loads(path.read_bytes())
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(rec, dict):
        raise ValueError(f"holds {type(rec).__name__ if rec is not None else 'null'}, not a record")
    return rec


def completed_hash(rec: dict[str, Any]) -> str | None:
    """The record's ``config_hash`` if it is a completed job, else None."""
    digest = rec.get("config_hash")
    return digest if rec.get("status") == "completed" and isinstance(digest, str) else None


def _walk(directory: str, prefix: str = "") -> Iterator[tuple[str, os.stat_result]]:
    """``(path relative to the walk's start, stat)`` of every ``metrics.json`` below
    ``directory``, in sorted order; symlinked directories are not followed."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in _SKIP_DIRS:
                    yield from _walk(entry.path, f"{prefix}{entry.name}/")
            elif entry.name == METRICS_FILE:
                yield prefix + entry.name, entry.stat()
        except OSError:
            continue


class ResumeIndex:
    """``config_hash`` -> completed job directories under some roots, built by one scan.

    ``roots`` are searched in order (a hash found under an earlier root wins; within
    a root, the first in sorted path order). ``cached_roots`` are the roots whose
    parsed files are cached in ``<root>/INDEX_FILE``.
    """

    def __init__(self, roots: Iterable[Path], cached_roots: Iterable[Path] = ()) -> None:
        self.roots = [Path(r) for r in roots]
        cached = {Path(r).resolve() for r in cached_roots}
        self._found: dict[str, list[Path]] = {}
        self._warnings: list[str] = []
        seen: set[Path] = set()
        for root in self.roots:
            self._scan(root, root.resolve() in cached, seen)
        self._warn()

    def _scan(self, root: Path, cache_on_disk: bool, seen: set[Path]) -> None:
        if not root.is_dir():
            return
        real_root = root.resolve()
        old = _load_cache(root) if cache_on_disk else {}
        new: dict[str, list[Any]] = {}
        for rel, st in _walk(str(root)):
            key = [st.st_size, st.st_mtime_ns]
            entry = old.get(rel)
            if entry is not None and entry[:2] == key:
                digest, problem = entry[2], entry[3]
            else:
                try:
                    digest, problem = completed_hash(read_record(root / rel)), None
                except ValueError as exc:
                    digest, problem = None, str(exc)
            new[rel] = [*key, digest, problem]
            real = (real_root / rel).parent
            if real in seen:  # a root inside another root: found already
                continue
            seen.add(real)
            if problem is not None:
                self._warnings.append(f"{root / rel}: {problem}")
            elif digest is not None:
                self._found.setdefault(digest, []).append((root / rel).parent)
        if cache_on_disk and new != old:
            _save_cache(root, new)

    def _warn(self) -> None:
        for line in self._warnings[:_MAX_WARNINGS]:
            print(f"warning: resume: skipping unreadable record {line}", file=sys.stderr)
        if len(self._warnings) > _MAX_WARNINGS:
            print(
                f"warning: resume: skipped {len(self._warnings) - _MAX_WARNINGS} more "
                "unreadable metrics.json files",
                file=sys.stderr,
            )

    def add(self, digest: str, directory: Path) -> None:
        """A job this process completed: found by later lookups of the same sweep."""
        self._found.setdefault(digest, []).insert(0, Path(directory))

    def find(self, digest: str, own: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
        """A completed job directory with ``digest`` and its record; ``own`` is tried first.

        Every candidate is re-read and re-checked, so a file deleted or changed since
        the scan is passed over (and forgotten), never reused.
        """
        candidates = [own] if own is not None else []
        candidates += self._found.get(digest, [])
        for directory in candidates:
            try:
                rec = read_record(directory / METRICS_FILE)
            except ValueError:
                rec = {}
            if completed_hash(rec) == digest:
                return directory, rec
            if directory is not own:
                self._found[digest].remove(directory)
        return None


def _load_cache(root: Path) -> dict[str, list[Any]]:
    """The parsed-file cache of ``root``; empty if missing, unreadable or of another version."""
    try:
        data = json.loads((root / INDEX_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    ok = isinstance(data, dict) and data.get("version") == INDEX_VERSION
    files = data.get("files") if ok else None
    if not isinstance(files, dict):
        return {}
    return {
        k: v
        for k, v in files.items()
        if isinstance(v, list) and len(v) == 4 and all(isinstance(n, int) for n in v[:2])
    }


def _save_cache(root: Path, files: dict[str, list[Any]]) -> None:
    """Write the cache atomically; a read-only root just goes without one."""
    from lossbench.io import atomic_write_text

    with contextlib.suppress(OSError):
        atomic_write_text(
            root / INDEX_FILE, json.dumps({"version": INDEX_VERSION, "files": files}) + "\n"
        )


# One index per sweep and process: (sweep dir, roots) -> index.
_CURRENT: tuple[tuple[Path, ...], ResumeIndex] | None = None


def _roots(cfg: DictConfig) -> list[Path] | None:
    """``report.resume_from`` as paths, or None with ``report.resume=false``."""
    node = OmegaConf.select(cfg, "report", default=None)
    if node is None:
        return []
    if not node.get("resume", True):
        return None
    return [Path(p) for p in node.get("resume_from") or []]


def sweep_index(cfg: DictConfig, sweep_dir: Path) -> ResumeIndex | None:
    """The index of this sweep (built on first use), or None with ``report.resume=false``.

    The sweep directory is searched first; it keeps a cache file of its own only
    when it is not inside a ``resume_from`` root (whose cache covers it).
    """
    global _CURRENT
    roots = _roots(cfg)
    if roots is None:
        return None
    sweep_dir = Path(sweep_dir)
    key = tuple(p.resolve() for p in (sweep_dir, *roots))
    if _CURRENT is None or _CURRENT[0] != key:
        inside = any(key[0].is_relative_to(r) for r in key[1:])
        cached = roots if inside else [sweep_dir, *roots]
        _CURRENT = (key, ResumeIndex([sweep_dir, *roots], cached_roots=cached))
    return _CURRENT[1]


def forget_index() -> None:
    """Drop the cached sweep index (the next lookup scans again)."""
    global _CURRENT
    _CURRENT = None


def reuse_completed(
    cfg: DictConfig, digest: str, out_dir: Path, sweep_dir: Path, overrides: list[str]
) -> dict[str, Any] | None:
    """Copy an earlier completed job with the same hash into ``out_dir``; its record or None.

    The copy keeps the earlier metrics and timing and takes this job's overrides (the
    same config may have been reached by a different command line).
    """
    index = sweep_index(cfg, sweep_dir)
    found = index.find(digest, own=out_dir) if index is not None else None
    if found is None:
        return None
    source, record = found
    out_dir.mkdir(parents=True, exist_ok=True)
    if source.resolve() != out_dir.resolve():
        for name in COPIED_FILES:
            if (source / name).exists():
                shutil.copy2(source / name, out_dir / name)
    record.update(
        overrides=list(overrides), resumed_from=record.get("resumed_from") or str(source.resolve())
    )
    write_json(out_dir / METRICS_FILE, record)
    index.add(digest, out_dir)
    return record


def remember_completed(
    cfg: DictConfig, sweep_dir: Path, records: Iterable[dict[str, Any]], dirs: Iterable[Path]
) -> None:
    """Add the records a job just wrote to its sweep's index (if that index was built),
    so a later job of the same sweep with the same config reuses them."""
    roots = _roots(cfg)
    if _CURRENT is None or roots is None:
        return
    if _CURRENT[0] != tuple(p.resolve() for p in (Path(sweep_dir), *roots)):
        return
    for record, directory in zip(records, dirs, strict=True):
        digest = completed_hash(record)
        if digest is not None:
            _CURRENT[1].add(digest, Path(directory))
