"""Resume a sweep: a job whose exact configuration already completed is not trained again.

A job is identified by ``config_hash``: the SHA-256 of its resolved config (the
``hydra`` node is not part of a job's config; the ``report`` block and
``trainer.progress`` are dropped because they do not change the result). The same
hash means the same data, model, loss, optimizer, budget and seed, run by the same
lossbench version and source and the same source of the user's modules the config
names (:func:`lossbench.provenance.code_identity`), hence the same metrics (training
is deterministic for a seed).

Where earlier results are looked for: the job's own directory, then its sweep
directory (a sweep re-run into a fixed ``hydra.sweep.dir``), then every directory
in ``report.resume_from`` (default ``outputs/multirun``, where sweeps land with the
default timestamped directory). So re-running the same command continues an
interrupted sweep: the new sweep directory gets a copy of each completed job's
files (``resumed_from`` names the source) and only the missing jobs train.
``report.resume=false`` trains everything again (do that after changing code).

Cost: one :class:`ResumeIndex` (``config_hash`` -> completed job directories) is
built per sweep and process, on the first lookup, and every seed of every job is
looked up in it; records this process writes are added as they complete. Each
``resume_from`` root keeps a cache of its directories in ``INDEX_FILE`` (each
directory's mtime, subdirectories and parsed ``metrics.json``), so a later sweep
costs one ``stat`` per unchanged directory: only directories whose mtime changed
(an entry was added, removed or atomically replaced, as lossbench writes records)
are listed again and only new or changed files parsed. A cache can at worst miss a
record (one edited in place without a rename: that job trains again); it never
causes a wrong reuse, because every hit is re-read and re-checked first. A
``metrics.json`` that cannot be read or is not a record (``null``, a list, broken
JSON) is skipped with a one-line warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.io import write_json
from lossbench.provenance import code_identity
from lossbench.records import HISTORY_FILE, METRICS_FILE, PREDICTIONS_FILE

INDEX_FILE = ".lossbench-resume-index.json"
INDEX_VERSION = 2
COPIED_FILES = (HISTORY_FILE, PREDICTIONS_FILE)
_IGNORED = (("report",), ("trainer", "progress"))
# Keys added after results existed, dropped from the hash while they hold their neutral
# default (which trains exactly as before they existed), so earlier results still resume.
_NEUTRAL: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("sampler",), {"_target_": "lossbench.training.samplers.NoSampler"}),
)
# Directories that never hold records: Hydra's saved configs and report plots.
_SKIP_DIRS = frozenset({".hydra", "plots", "__pycache__"})
_MAX_WARNINGS = 5
# A directory changed this recently may change again within one mtime tick.
_RACY_S = 2.0


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
    # lossbench version or source, or from another source of the user's modules that the
    # config names (their ``_target_``), are not reused.
    for path, neutral in _NEUTRAL:
        node = container
        for part in path[:-1]:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and node.get(path[-1], neutral) == neutral:
            node.pop(path[-1], None)
    container["_code"] = code_identity(cfg)
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


class _Tree:
    """The ``metrics.json`` files under a root, re-listing only directories that changed.

    The cache holds, per directory (path relative to the root, ``""`` or ending in
    ``/``): its ``st_mtime_ns``, its subdirectories and its ``metrics.json`` as
    ``[size, mtime_ns, config_hash or None, problem or None]`` (or None). A directory
    whose mtime is unchanged has the same entries (creating, removing or renaming an
    entry, as every atomic write of a record does, changes it), so it costs one
    ``stat``; only changed directories are listed and only new or changed files
    parsed. A leaf directory whose cached record is a completed job is not even
    ``stat``-ed: records are written once, and a hit is re-checked anyway (so a
    completed record later replaced by another is never reused under its old hash,
    but is not found under its new one: that job trains again). A directory
    modified within ``_RACY_S`` of the scan is not trusted next time (its mtime may
    not have ticked yet), as git does for its index.
    """

    def __init__(self, root: str, old: dict[str, Any]) -> None:
        self.root, self.old = root, old
        self.new: dict[str, list[Any]] = {}
        self.now_ns = time.time_ns()

    def _cached(self, rel: str) -> list[Any] | None:
        """The cache entry of ``rel`` if it is well-formed (the file may be damaged)."""
        e = self.old.get(rel)
        if not (type(e) is list and len(e) == 3 and type(e[0]) is int and type(e[1]) is list):
            return None
        if not all(type(n) is str and n and "/" not in n for n in e[1]):
            return None
        r = e[2]
        ok = r is None or (
            type(r) is list
            and len(r) == 4
            and type(r[0]) is int
            and type(r[1]) is int
            and (r[2] is None or type(r[2]) is str)
            and (r[3] is None or type(r[3]) is str)
        )
        return e if ok else None

    def records(self, rel: str = "") -> Iterator[tuple[str, list[Any]]]:
        """``(directory relative to the root, [size, mtime, hash, problem])`` of every
        record, depth first in sorted order."""
        cached = self._cached(rel)
        if cached is not None and cached[0] > 0 and not cached[1]:
            record = cached[2]
            if record is not None and record[2] is not None:  # a completed record
                self.new[rel] = cached
                yield rel, record
                return
        path = f"{self.root}/{rel}"
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return
        if cached is not None and cached[0] == mtime:
            subdirs, record = cached[1], cached[2]
        else:
            try:
                subdirs, record = self._list(path, cached[2] if cached else None)
            except OSError:
                return
        # The root changes with every write of the cache file itself: always listed.
        trusted = rel and self.now_ns - mtime > _RACY_S * 1e9
        self.new[rel] = [mtime if trusted else -1, subdirs, record]
        if record is not None:
            yield rel, record
        for name in subdirs:
            yield from self.records(f"{rel}{name}/")

    @staticmethod
    def _list(path: str, cached: list[Any] | None) -> tuple[list[str], list[Any] | None]:
        subdirs, record = [], None
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _SKIP_DIRS:
                        subdirs.append(entry.name)
                elif entry.name == METRICS_FILE:
                    st = entry.stat()
                    record = [st.st_size, st.st_mtime_ns]
        if record is not None:
            if cached is not None and cached[:2] == record:
                record = cached
            else:
                try:
                    record += [completed_hash(read_record(Path(path, METRICS_FILE))), None]
                except ValueError as exc:
                    record += [None, str(exc)]
        return sorted(subdirs), record


class ResumeIndex:
    """``config_hash`` -> completed job directories under some roots, built by one scan.

    ``roots`` are searched in order (a hash found under an earlier root wins; within
    a root, the first in sorted path order). ``cached_roots`` keep a directory cache
    in ``<root>/INDEX_FILE`` (see :class:`_Tree`).
    """

    def __init__(self, roots: Iterable[Path], cached_roots: Iterable[Path] = ()) -> None:
        self.roots = [Path(r) for r in roots]
        cached = {Path(r).resolve() for r in cached_roots}
        self._found: dict[str, list[str]] = {}
        self._warnings: list[str] = []
        seen: set[str] = set()
        for root in self.roots:
            self._scan(root, root.resolve() in cached, seen)
        self._warn()

    def _scan(self, root: Path, cache_on_disk: bool, seen: set[str]) -> None:
        if not root.is_dir():
            return
        real_root = str(root.resolve())
        old = _load_cache(root) if cache_on_disk else {}
        tree = _Tree(str(root), old)
        for rel, (_, _, digest, problem) in tree.records():
            real = f"{real_root}/{rel}"
            if real in seen:  # a root inside another root: found already
                continue
            seen.add(real)
            if problem is not None:
                self._warnings.append(f"{root}/{rel}{METRICS_FILE}: {problem}")
            elif digest is not None:
                self._found.setdefault(digest, []).append(f"{root}/{rel}")
        if cache_on_disk and tree.new != old:
            _save_cache(root, tree.new)

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
        self._found.setdefault(digest, []).insert(0, str(directory))

    def find(self, digest: str, own: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
        """A completed job directory with ``digest`` and its record; ``own`` is tried first.

        Every candidate is re-read and re-checked, so a file deleted or changed since
        the scan is passed over (and forgotten), never reused.
        """
        candidates = [str(own)] if own is not None else []
        candidates += self._found.get(digest, [])
        for i, directory in enumerate(candidates):
            try:
                rec = read_record(Path(directory, METRICS_FILE))
            except ValueError:
                rec = {}
            if completed_hash(rec) == digest:
                return Path(directory), rec
            if i > 0 or own is None:
                self._found[digest].remove(directory)
        return None


def _load_cache(root: Path) -> dict[str, Any]:
    """The directory cache of ``root`` (entries checked when used); empty if missing,
    unreadable or of another version."""
    try:
        data = json.loads((root / INDEX_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    ok = isinstance(data, dict) and data.get("version") == INDEX_VERSION
    dirs = data.get("dirs") if ok else None
    return dirs if isinstance(dirs, dict) else {}


def _save_cache(root: Path, dirs: dict[str, list[Any]]) -> None:
    """Write the cache atomically; a read-only root just goes without one."""
    from lossbench.io import atomic_write_text

    with contextlib.suppress(OSError):
        atomic_write_text(
            root / INDEX_FILE, json.dumps({"version": INDEX_VERSION, "dirs": dirs}) + "\n"
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
