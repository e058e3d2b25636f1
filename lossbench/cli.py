"""The ``lossbench`` command: a thin dispatcher that imports a subcommand only when used.

``lossbench --help``, ``--version`` and ``list`` never import torch; ``run`` hands
its arguments to the Hydra app unchanged, so every Hydra flag and override works.
"""

from __future__ import annotations

import importlib
import os
import sys

from lossbench import __version__

# name -> (module with a ``main(argv) -> int``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("lossbench.app", "train and evaluate; Hydra overrides, -m (multirun), --cfg, --help"),
    "list": ("lossbench.registry", "the losses, datasets, models and optimizers that exist"),
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
