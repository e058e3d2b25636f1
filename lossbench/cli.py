"""The ``lossbench`` command: a thin dispatcher that imports a subcommand only when used.

``lossbench --help``, ``--version`` and ``list`` never import torch; ``run`` hands
its arguments to the Hydra app unchanged, so every Hydra flag and override works.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from lossbench import __version__

# Set to 0 to end the console script by a normal interpreter shutdown.
FAST_EXIT_ENV = "LOSSBENCH_FAST_EXIT"

# name -> (module with a ``main(argv) -> int``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("lossbench.app", "train and evaluate; Hydra overrides, -m (multirun), --cfg, --help"),
    "list": ("lossbench.registry", "the losses, datasets, models, optimizers and samplers"),
    "check": ("lossbench.check", "gradients, extremes, reductions of a loss: check loss=NAME ..."),
    "report": ("lossbench.report.cli", "aggregate sweeps: tables, tests vs baseline, plots"),
}

USAGE = """usage: lossbench [--help] [--version] COMMAND [ARGS ...]

Design a loss for imbalanced, long-tailed or time-series data, and prove it helps.

commands:
{commands}

examples:
  lossbench run                                   # default experiment, prints a result table
  lossbench run loss=asymmetric loss.class_weights=[0.5,2.0] optimizer=rmsprop
  lossbench run -m loss=ce,asymmetric seed=0,1,2  # a sweep: one job per combination
  lossbench report outputs/multirun/DATE/TIME     # rebuild a sweep's report; merge several
  lossbench list losses
  lossbench check loss=focal loss.gamma=0.5          # gradients, extremes, reductions
  lossbench run --help                            # Hydra's help: config groups and overrides
"""


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items()]
    return USAGE.format(commands="\n".join(lines))


def _one_thread_env() -> None:
    """One BLAS/OpenMP thread per job unless the user chose otherwise.

    On small shared CPUs two threads in one process were measured 7-30x slower
    than one; parallelism comes from running jobs side by side.
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")


COMPLETION_FLAGS = ("-sc", "--shell-completion")


def _complete(args: list[str]) -> int:
    """Answer the shell's TAB query that ``lossbench run -sc install=bash`` set up.

    The installed bash function calls ``lossbench -sc query=bash`` with the typed line in
    ``COMP_LINE`` (``lossbench run loss=fo``). Command names are completed here; for
    ``run`` the line loses its ``run`` word and goes to Hydra's completion of the run app.
    """
    line = os.environ.get("COMP_LINE", "")
    words = line.split()
    query = any(a.startswith("query=") for a in args)
    if query and (len(words) < 2 or (len(words) == 2 and not line.endswith(" "))):
        typed = words[1] if len(words) == 2 else ""
        print(" ".join(name for name in COMMANDS if name.startswith(typed)))
        return 0
    if query and words[1] != "run":
        print("")  # other commands take plain arguments: nothing to offer
        return 0
    if query:
        head, _, rest = line.partition(" run")
        os.environ["COMP_LINE"] = head + rest
        point = os.environ.get("COMP_POINT", "")
        if point.isdigit():
            os.environ["COMP_POINT"] = str(max(0, int(point) - len(" run")))
    return _dispatch("run", args)


def _dispatch(name: str, rest: list[str]) -> int:
    from lossbench.log import setup

    setup()
    if name == "run":
        _one_thread_env()
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lossbench`` console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in COMPLETION_FLAGS:
        return _complete(args)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args[0] == "--version":
        print(f"lossbench {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(
            f"error: unknown command {name!r}; choose from: {', '.join(COMMANDS)}", file=sys.stderr
        )
        return 2
    return _dispatch(name, rest)


def _children() -> list[str]:
    """Child processes of this process still alive (Linux ``/proc``; elsewhere: unknown)."""
    tasks = f"/proc/{os.getpid()}/task"
    try:
        return [
            pid
            for tid in os.listdir(tasks)
            for pid in Path(tasks, tid, "children").read_text().split()
        ]
    except OSError:
        return ["?"]


def fast_exit_allowed() -> bool:
    """May the console script end with ``os._exit``? Not when switched off by
    ``LOSSBENCH_FAST_EXIT=0``, nor while child processes (a launcher's worker pool)
    or other non-daemon threads are alive: they get the normal shutdown."""
    import threading

    if os.environ.get(FAST_EXIT_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    main = threading.main_thread()
    threads = [t for t in threading.enumerate() if not t.daemon and t is not main]
    return not threads and not _children()


def end_process(code: int) -> NoReturn:
    """End the console script with ``code`` once everything is written.

    Runs the ``atexit`` handlers, flushes the standard streams and closes the logging
    handlers, then ends the process with ``os._exit``: the interpreter's own shutdown
    (tearing down torch, SciPy, ... module by module) was measured at ~1.7 s after the
    work is done. Only the console script calls this, never library code or tests
    running lossbench in-process; when :func:`fast_exit_allowed` says no, this is a
    plain ``SystemExit``.
    """
    if not fast_exit_allowed():
        raise SystemExit(code)
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            code = code or 1  # output lost (a closed pipe): the exit code says so
    os._exit(code)


def _exit_code(exc: SystemExit) -> int:
    """The status ``SystemExit(exc.code)`` would end the process with (a message: 1)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def console() -> NoReturn:
    """The ``lossbench`` console script and ``python -m lossbench``: :func:`main`, then
    :func:`end_process` (what an error or Ctrl-C raises propagates as usual)."""
    try:
        code = main()
    except SystemExit as exc:
        code = _exit_code(exc)
    end_process(code)
