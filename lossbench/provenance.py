"""What code produced a result: lossbench's own version and source, and the user's modules.

Resume reuses a result only if the code that produced it is the same. Three things
identify that code, and each is found where it lives:

* lossbench itself: its version and a SHA-256 of its own package source files (so an
  installed lossbench is identified by the package, never by the git HEAD of the
  directory the user happens to run in); its git commit only when the package *is*
  a lossbench git checkout (an editable install), recorded for people, not hashed;
* the user's modules named by ``_target_`` keys (a custom loss, model or dataset):
  a SHA-256 of each module's source file, wherever it is (inside or outside a git
  repository, committed or not), so editing ``my_loss.py`` invalidates its results;
* the user's repository state (HEAD and whether it has uncommitted changes),
  recorded in ``metrics.json`` for people, not hashed: a commit to unrelated files
  must not invalidate every result.

Torch-free; git is optional.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import lossbench
from lossbench import __version__

PACKAGE_DIR = Path(lossbench.__file__).resolve().parent


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@cache
def lossbench_source_hash() -> str:
    """SHA-256 (16 hex digits) of lossbench's ``.py`` files and packaged configs."""
    h = hashlib.sha256()
    files = sorted(
        p for p in PACKAGE_DIR.rglob("*") if p.suffix in (".py", ".yaml") and p.is_file()
    )
    for path in files:
        h.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@cache
def lossbench_git_commit() -> str | None:
    """The commit of lossbench's own checkout, or None (an installed wheel, or the
    package merely sitting inside somebody else's repository)."""
    top = _git(PACKAGE_DIR, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != PACKAGE_DIR.parent:
        return None
    if _git(PACKAGE_DIR, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None  # lossbench/ is not tracked by that repository
    return _git(PACKAGE_DIR, "rev-parse", "HEAD")


def user_repo_state(cwd: str | Path | None = None) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the git repository the job runs in, or None."""
    where = Path(cwd or os.getcwd())
    commit = _git(where, "rev-parse", "HEAD")
    if commit is None:
        return None
    status = _git(where, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status)}


def _targets(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(key, target)`` for every ``_target_`` string in a config tree."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "_target_" and isinstance(value, str):
                yield path, value
            else:
                yield from _targets(value, where)
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from _targets(value, f"{path}[{i}]")


@cache
def _library_dirs() -> tuple[Path, ...]:
    """Where installed libraries and the standard library live (not the user's code)."""
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    dirs = {Path(p).resolve() for p in (sysconfig.get_paths().get(n) for n in names) if p}
    return tuple(sorted(dirs))


def module_file(target: str) -> Path | None:
    """The source file of the module that defines ``target`` (``pkg.mod.Name``), if any."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        module = sys.modules.get(name)
        if module is None:
            try:
                module = importlib.import_module(name)
            except Exception:
                if os.getcwd() not in sys.path:  # as lossbench.build looks targets up
                    sys.path.append(os.getcwd())
                    try:
                        module = importlib.import_module(name)
                    except Exception:
                        continue
                else:
                    continue
        file = getattr(module, "__file__", None)
        return Path(file).resolve() if file else None
    return None


def is_user_file(path: Path) -> bool:
    """True unless ``path`` is part of lossbench or of an installed library / the stdlib."""
    if path.is_relative_to(PACKAGE_DIR):
        return False
    return not any(path.is_relative_to(d) for d in _library_dirs())


def user_sources(cfg: Any) -> dict[str, str]:
    """``{target: sha}`` of the source file of each user module named by a ``_target_``.

    ``cfg`` is a plain dict or a DictConfig. Targets that cannot be imported are
    left out (building them fails with its own message).
    """
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            cfg = OmegaConf.to_container(cfg, resolve=False)
    except ImportError:  # pragma: no cover
        pass
    out: dict[str, str] = {}
    for _, target in _targets(cfg):
        if target in out or target.startswith(("lossbench.", "torch.")):
            continue
        file = module_file(target)
        if file is None or not file.is_file() or not is_user_file(file):
            continue
        out[target] = _sha(file.read_bytes())
    return dict(sorted(out.items()))


def code_identity(cfg: Any) -> dict[str, Any]:
    """What goes into ``config_hash`` besides the config: lossbench's version and source
    hash, and the source hash of every user module the config names."""
    return {
        "lossbench": __version__,
        "lossbench_source": lossbench_source_hash(),
        "user_sources": user_sources(cfg),
    }


def versions(cfg: Any = None) -> dict[str, Any]:
    """The ``versions`` block of ``metrics.json``: lossbench (version, source hash, own
    git commit), torch, python, and separately the user's repository and modules."""
    import platform

    out: dict[str, Any] = {
        "lossbench": __version__,
        "lossbench_source": lossbench_source_hash(),
        "git_commit": lossbench_git_commit(),
        "python": platform.python_version(),
    }
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:  # pragma: no cover - torch is a dependency
        out["torch"] = None
    out["user_repo"] = user_repo_state()
    if cfg is not None:
        out["user_sources"] = user_sources(cfg)
    return out
