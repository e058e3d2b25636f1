"""Ordinary problems become one line and the right exit code, never a traceback.

* :func:`run_guarded` wraps the Hydra app (``lossbench run``). Hydra's own
  ``run_and_report`` prints its errors over many lines (or a traceback) and exits 1;
  here Hydra is asked to re-raise (``HYDRA_FULL_ERROR=1``, unless the user set it,
  in which case everything is re-raised untouched) and the error is printed as one
  line: config mistakes (an unknown option, still listing the valid ones; malformed
  YAML in ``--config-dir``; a missing mandatory ``???`` value; a bad override)
  exit 2, a file-system problem (unwritable directory, ``Errno 28`` disk full)
  exits 1, Ctrl-C exits 130 (128 + SIGINT). Results are written atomically
  (:mod:`lossbench.io`), so an interrupted write leaves no half-written file.
* :func:`raw_seed` reads the seed of a config that failed validation (``seed=abc`` in
  ``-m seed=0,abc,2``), so the runner records that job as ``failed`` without touching
  anything that needs a valid config (:func:`lossbench.plan.blank_record`) and the
  rest of the sweep and its report go on.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any

from lossbench.errors import EXIT_USAGE, ConfigError

EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


HYDRA_MODE_CLASH = "Only one of --run, --multirun, --cfg"


def hydra_error_line(exc: BaseException) -> str | None:
    """One line for an error Hydra, OmegaConf or YAML raised about the config, else None."""
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    try:
        import yaml

        yaml_errors: tuple[type[BaseException], ...] = (yaml.YAMLError,)
    except ImportError:  # pragma: no cover
        yaml_errors = ()
    cause = exc
    while cause.__cause__ is not None and not isinstance(cause, MissingConfigException):
        if isinstance(cause, (*yaml_errors, MissingMandatoryValue)):
            break
        cause = cause.__cause__
    if isinstance(cause, MissingConfigException):
        head = _first_line(str(cause)).rstrip(".")
        group = (cause.missing_cfg_file or "").rpartition("/")[0]
        if cause.options:
            where = f" in '{group}'" if group else ""
            return f"{head}. Available options{where}: {', '.join(cause.options)}"
        return head
    if isinstance(cause, MissingMandatoryValue):
        key = getattr(cause, "full_key", None) or "a key"
        return f"{key} is required (its value is ???): set {key}=VALUE"
    if yaml_errors and isinstance(cause, yaml_errors):
        mark = getattr(cause, "problem_mark", None)
        where = f"{mark.name}:{mark.line + 1}" if mark is not None else "a YAML file"
        problem = getattr(cause, "problem", None) or _first_line(str(cause))
        return f"malformed YAML in {where}: {problem}"
    if isinstance(exc, ValueError) and str(exc).startswith(HYDRA_MODE_CLASH):
        # Hydra's own check of its command-line modes, e.g. `-m ... --cfg job`
        return (
            f"{_first_line(str(exc))}; drop -m to print a job's config "
            "(lossbench run loss=focal --cfg job)"
        )
    if isinstance(exc, HydraException | OmegaConfBaseException):
        head = _first_line(str(exc))
        detail = _first_line(str(exc.__cause__)) if exc.__cause__ is not None else ""
        unknown = _unknown_key_line(head, detail)
        if unknown is not None:
            return unknown
        return f"{head} ({detail})" if detail and detail not in head else head
    return None


def _unknown_key_line(head: str, detail: str) -> str | None:
    """``loss.gama is not a key; did you mean loss.gamma? ...`` for Hydra's "Could not
    override 'loss.gama'" (a key that no config defines, set without ``+``)."""
    import re

    found = re.search(r"Could not override '([\w.]+)'", head)
    if found is None or "not in struct" not in detail:
        return None
    key = found.group(1)
    block, _, name = key.rpartition(".")
    from lossbench import schema

    if block in schema.GROUPS:  # the keys of every option of the group
        valid = sorted({k for _, keys in schema._option_targets(block).values() for k in keys})
        valid = [k for k in valid if not k.startswith("_") and k != "defaults"]
    else:
        valid = [k.split(".", 1)[1] for k in schema.ROOT if k.startswith(f"{block}.")]
    hint = schema.did_you_mean(name, valid).replace("did you mean ", f"did you mean {block}.")
    return f"{key} is not a key{hint} (a new key of your own needs a leading +: +{key}=...)"


def os_error_line(exc: OSError) -> str:
    """``cannot write FILE: No space left on device`` and the like."""
    what = exc.strerror or _first_line(str(exc)) or type(exc).__name__
    where = exc.filename
    if exc.errno == errno.ENOSPC:
        return f"{where or 'disk'}: no space left on device; free space or choose another dir"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"cannot write {where}: {what}; choose a writable directory (hydra.run.dir / "
            "hydra.sweep.dir)"
            if where
            else f"{what}"
        )
    return f"{where}: {what}" if where else what


def run_guarded(fn: Callable[[], Any]) -> int:
    """Run ``fn`` (the Hydra app); map ordinary failures to one line and an exit code."""
    user_wants_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    if user_wants_traceback:
        fn()
        return 0
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        fn()
    except KeyboardInterrupt:
        print(
            "\ninterrupted (Ctrl-C): finished jobs are kept; rerun the command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        line = hydra_error_line(exc)  # MissingConfigException is an OSError too
        if line is not None:
            print(f"error: {line}", file=sys.stderr)
            return EXIT_USAGE
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:
        line = hydra_error_line(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        os.environ.pop("HYDRA_FULL_ERROR", None)
    return 0


_watching = False


def exit_with_parent(interval_s: float = 1.0) -> bool:
    """In a launcher's worker process (joblib/loky), end it when the main process dies.

    A SIGKILL of ``lossbench run -m hydra/launcher=joblib`` leaves its workers training
    on (measured: 90 s and more) until they next talk to the dead parent. A daemon
    thread notices the re-parenting (``os.getppid()`` changes) within ``interval_s``
    and ends the worker at once; the job it was running wrote nothing (results are
    written atomically at the end) and a rerun resumes it. Returns True if it watches;
    the main process (a single run, the basic launcher) is never watched.
    """
    import multiprocessing
    import threading
    import time

    global _watching
    if _watching or multiprocessing.current_process().name == "MainProcess":
        return False
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os._exit(EXIT_FAILURE)

    threading.Thread(target=watch, name="lossbench-exit-with-parent", daemon=True).start()
    _watching = True
    return True


def raw_seed(cfg: Any) -> Any:
    """``cfg.seed`` as given (it may be the bad value), without resolving anything else."""
    try:
        from omegaconf import OmegaConf

        return OmegaConf.to_container(cfg, resolve=False).get("seed")  # type: ignore[union-attr]
    except Exception:
        return None
